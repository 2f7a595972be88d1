//! # indievalue
//!
//! Individualistic value reasoning: predicting what one particular person values from a sample of
//! their own value statements, after Jiang et al., "Can Language Models Reason about
//! Individualistic Human Values and Preferences?" (IndieValueCatalog).
//!
//! This facade re-exports the workspace's library crates, each usable on its own:
//!
//! | module | crate | what |
//! | --- | --- | --- |
//! | [`catalog`] | `indievalue-catalog` | typed schema, metadata loader, statistics, Parquet storage |
//! | [`convert`] | `indievalue-convert` | raw WVS CSV to the catalog's Parquet, with Table 1's report |
//! | [`synth`] | `indievalue-synth` | synthetic respondents with a known structure and exact ceilings |
//! | [`sampling`] | `indievalue-sampling` | probe setups, evaluation set, demonstrations, tasks, training sets |
//! | [`metrics`] | `indievalue-metrics` | predictions format, accuracy, Value Inequity Index, reports, plots |
//! | [`baselines`] | `indievalue-baselines` | random, global majority, resemble top-1 and top-k |
//! | [`llm`] | `indievalue-llm` | Llama-3.x on candle: loading (safetensors, hub, GGUF), tokenizers, chat templates |
//! | [`probe`] | `indievalue-probe` | the paper's prompts, answer parsing, scoring and generative predictors |
//! | [`finetune`] | `indievalue-finetune` | LoRA and full fine-tuning with PyTorch/PEFT semantics, memory plan, merged export |
//! | [`reasoner`] | `indievalue-reasoner` | the IndieValueReasoner recipe: training set, fine-tuning, evaluation beside the base |
//! | [`remote`] | `indievalue-remote` | models served behind OpenAI-compatible APIs: generative probing and log-prob scoring, cache, retries, budgets |
//! | [`experiments`] | `indievalue-experiments` | the paper's experiments as TOML plans, content-addressed results, `REPORT.md` |
//!
//! See `docs/ARCHITECTURE.md` for where things live and how data flows.
//!
//! ```
//! let catalog = indievalue::catalog::Catalog::load(indievalue_testdata::mini_catalog_dir())?;
//! assert_eq!(catalog.stats().categories.len(), 13);
//! # Ok::<(), indievalue::catalog::Error>(())
//! ```

pub use indievalue_baselines as baselines;
pub use indievalue_catalog as catalog;
pub use indievalue_convert as convert;
pub use indievalue_experiments as experiments;
pub use indievalue_files as files;
pub use indievalue_finetune as finetune;
pub use indievalue_llm as llm;
pub use indievalue_metrics as metrics;
pub use indievalue_probe as probe;
pub use indievalue_reasoner as reasoner;
pub use indievalue_remote as remote;
pub use indievalue_rng as rng;
pub use indievalue_sampling as sampling;
pub use indievalue_synth as synth;
