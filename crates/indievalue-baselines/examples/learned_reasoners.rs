//! The learned reasoners on a synthetic WVS-shaped survey: fitting time, prediction time and
//! throughput, and every row's accuracy (with 95 % bootstrap intervals over people) beside the
//! exact Bayes-optimal ceiling.
//!
//! ```text
//! INDIEVALUE_META_DIR=../shared/indievalue-meta cargo run --release -p indievalue-baselines \
//!     --example learned_reasoners -- [--people 93279] [--seed 1] [--eval-people 800] \
//!     [--demos 200] [--refined] [--profiles 8] [--max-iterations N] [--final-iterations N] \
//!     [--max-fit-rows N] [--max-final-rows N] [--validation-people N]
//! ```
//!
//! Positional flags only (no argument parser in this crate's dependencies): `--name value`.

use indievalue_baselines::{
    GlobalMajority, LearnedReasoners, LearnedSettings, ResembleIndex, resemble_sweep,
};
use indievalue_catalog::rng::Rng;
use indievalue_catalog::{Catalog, Granularity, meta_dir_from_env};
use indievalue_metrics::{AccuracyReport, Bootstrap, Prediction, setup_average};
use indievalue_sampling::{
    AnswerMatrix, DemoMode, DemoSpec, EvalCriteria, ProbeSetup, TaskSpec, build_probe_tasks,
    select_evaluation_set,
};
use indievalue_synth::{SynthConfig, SyntheticModel};
use std::collections::BTreeMap;
use std::time::Instant;

fn flag(args: &[String], name: &str, default: u64) -> u64 {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map(|v| {
            v.parse()
                .unwrap_or_else(|_| panic!("{name} takes a number"))
        })
        .unwrap_or(default)
}

/// Mean over people of `a - b` and its 95 % bootstrap interval.
fn paired(a: &AccuracyReport, b: &AccuracyReport, seed: u64) -> (f64, f64, f64) {
    let d: Vec<f64> = a
        .per_person
        .iter()
        .zip(&b.per_person)
        .map(|((pa, x), (pb, y))| {
            assert_eq!(pa, pb);
            x - y
        })
        .collect();
    let mean = d.iter().sum::<f64>() / d.len() as f64;
    let mut rng = Rng::new(seed);
    let mut means: Vec<f64> = (0..1000)
        .map(|_| {
            (0..d.len())
                .map(|_| d[rng.below(d.len() as u64) as usize])
                .sum::<f64>()
                / d.len() as f64
        })
        .collect();
    means.sort_by(f64::total_cmp);
    (mean, means[25], means[974])
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let people_n = flag(&args, "--people", 93_279) as usize;
    let seed = flag(&args, "--seed", 1);
    let eval_people = flag(&args, "--eval-people", 800) as usize;
    let demos = flag(&args, "--demos", 200) as usize;
    let profiles = flag(&args, "--profiles", 8) as usize;
    let granularity = if args.iter().any(|a| a == "--refined") {
        Granularity::Refined
    } else {
        Granularity::Polar
    };
    let meta = meta_dir_from_env().ok_or("set INDIEVALUE_META_DIR to the authors' metadata")?;
    let catalog = Catalog::load(meta)?;
    let config = SynthConfig {
        people: people_n,
        seed,
        profiles,
        ..Default::default()
    };
    let model = SyntheticModel::new(&catalog, &config)?;
    let people = model.respondents(&catalog)?;
    let answers = AnswerMatrix::new(&people);
    let setups = ProbeSetup::of_survey(&catalog);
    let criteria = EvalCriteria {
        people: eval_people,
        ..Default::default()
    };
    let eval = select_evaluation_set(&catalog, &people, &answers, &setups, &criteria, seed)?;
    let pool = eval.training_rows(people.len());
    let spec = DemoSpec {
        mode: DemoMode::Fixed(demos),
        granularity,
        demographics: false,
    };
    let task_spec = TaskSpec {
        setups: &setups,
        demos: spec,
        probe_granularity: granularity,
        seed,
    };
    let tasks = build_probe_tasks(&catalog, &people, &answers, &eval.rows, &task_spec);
    let probes: usize = tasks.iter().map(|t| t.probes.len()).sum();
    println!(
        "synthetic survey: {} people (seed {seed}, {profiles} profiles), {} evaluation people, pool {}, {} tasks, {probes} probes, {demos} {granularity} demonstrations, {} threads",
        people.len(),
        eval.rows.len(),
        pool.len(),
        tasks.len(),
        rayon::current_num_threads()
    );

    let started = Instant::now();
    let defaults = LearnedSettings::new(seed);
    let settings = LearnedSettings {
        max_iterations: flag(&args, "--max-iterations", defaults.max_iterations),
        final_iterations: flag(&args, "--final-iterations", defaults.final_iterations),
        max_fit_rows: flag(&args, "--max-fit-rows", defaults.max_fit_rows as u64) as usize,
        max_final_rows: flag(&args, "--max-final-rows", defaults.max_final_rows as u64) as usize,
        validation_people: flag(
            &args,
            "--validation-people",
            defaults.validation_people as u64,
        ) as usize,
        ..defaults
    };
    let learned = LearnedReasoners::fit(&catalog, &people, &answers, &pool, &tasks, &settings)?;
    let fit_seconds = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let predicted = learned.predict(&catalog, &tasks)?;
    let predict_seconds = started.elapsed().as_secs_f64();
    println!(
        "fit (cross-validation and final fits, 3 setups): {fit_seconds:.1} s; predict: {predict_seconds:.2} s ({:.0} probes/s, every learned row)",
        probes as f64 / predict_seconds
    );

    let global = GlobalMajority::fit(&catalog, &answers, &pool);
    let index = ResembleIndex::build(&catalog, &people, &answers, &pool, granularity)?;
    let k = learned.settings().top_k;
    let mut sweep = resemble_sweep(&catalog, &answers, &index, &global, &tasks, k, &[1, k])?;
    let rows: Vec<(String, Vec<Prediction>)> = vec![
        ("global".into(), global.predictions(&catalog, &tasks)?),
        (
            "top1".into(),
            sweep.predictions.remove(&1).unwrap_or_default(),
        ),
        (
            format!("top{k}"),
            sweep.predictions.remove(&k).unwrap_or_default(),
        ),
        ("weighted".into(), predicted.weighted),
        ("logistic".into(), predicted.logistic),
        ("latent".into(), predicted.latent),
        ("blend".into(), predicted.blend),
    ];
    let random = indievalue_baselines::random_accuracy(&catalog, &setups, granularity);
    let ceiling = model.bayes_ceiling(&catalog, &people, &tasks)?;
    println!("| row | accuracy | 95 % interval over people | log-loss |");
    println!("| --- | ---: | --- | ---: |");
    println!("| random (exact) | {:.2} | | |", setup_average(&random));
    let mut reports = BTreeMap::new();
    for (name, predictions) in &rows {
        let r = AccuracyReport::compute(&catalog, predictions, &Bootstrap::default())?;
        println!(
            "| {name} | {:.2} | {:.2}-{:.2} | {} |",
            r.setup_average(),
            r.ci_low,
            r.ci_high,
            r.log_loss.map(|l| format!("{l:.4}")).unwrap_or_default()
        );
        reports.insert(name.clone(), r);
    }
    println!(
        "| Bayes ceiling (exact) | {:.2} | | |",
        setup_average(&ceiling)
    );
    let selection = learned.selection();
    let recommended = selection.recommended.name(k);
    let (d, lo, hi) = paired(&reports[&recommended], &reports[&format!("top{k}")], seed);
    println!(
        "recommended: {recommended}; minus top-{k}: {d:+.2} points (95 % interval {lo:+.2} to {hi:+.2})"
    );
    println!("cross-validated (pool): {:?}", selection.accuracy);
    println!(
        "latent classes {} ({} EM iterations in the final fit), folds used {}",
        selection.classes, selection.latent_iterations, selection.folds_used
    );
    for s in &selection.setups {
        println!(
            "  setup {}: {} validation, {} final people x {}, {:.0} demonstrations; beta {}, lambda {:.1}, temperature {}, blend {:?}; CV {:?}",
            s.setup,
            s.validation_people,
            s.final_people,
            s.replicates,
            s.mean_demonstrations,
            s.weighted_beta,
            s.lambda,
            s.temperature,
            s.blend_weights,
            s.accuracy
        );
        println!(
            "    lambdas {:?}, iterations {:?} then {}",
            s.lambda_accuracy, s.fit_iterations, s.final_iterations
        );
        println!("    latent {:?}", s.latent_accuracy);
        println!("    betas {:?}", s.beta_accuracy);
    }
    Ok(())
}
