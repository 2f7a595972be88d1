//! Planning and running: which jobs the experiments need, which exist, what is left; running
//! what is left; the results the experiments render from.

use crate::data::Dataset;
use crate::experiment::{Experiment, Need, RenderContext, TaskRequest};
use crate::experiments::experiments_of;
use crate::plan::{BASELINES, Plan, ReasonerSpec};
use crate::report::{ExperimentTiming, ReportFiles, write_report};
use crate::store::Store;
use crate::{Error, Result};
use indievalue_baselines::{LearnedSettings, SuiteOptions, SweepPoint, run_baseline_suite};
use indievalue_catalog::{Catalog, FileHeader, Granularity};
use indievalue_llm::{
    LoadOptions, LoadedModel, ModelSource, device_from_name, load_model, parse_dtype,
};
use indievalue_metrics::{Prediction, PredictionsFile};
use indievalue_probe::{ProbeMode, ProbeRun, PromptBuilder, TaskPredictor};
use indievalue_remote::{
    Client, ClientSettings, Endpoint, RemoteGenerative, RemoteScoring, RemoteScoringSettings,
    ResponseCache, default_cache_dir,
};
use indievalue_sampling::{
    DemoMode, DemoSpec, EvalCriteria, EvaluationSet, ProbeSetup, ProbeTask, TASK_FORMAT, TaskFile,
    TaskSpec, build_category_tasks, build_probe_tasks, retarget_tasks, select_evaluation_set,
};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Instant;

const BASELINE_SUMMARY: &str = "baselines.json";

/// What a job runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobKind {
    /// The statistical baselines (and a synthetic survey's exact ceiling).
    Baselines,
    /// A local language model (its `[[reasoner]]` name).
    Model(String),
}

/// Where a job stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobStatus {
    /// Its files are complete.
    Done,
    /// Some of its tasks are done.
    Partial,
    /// Nothing is done.
    Todo,
}

/// One reasoner on one task set, stored under its key.
#[derive(Debug, Clone)]
pub struct Job {
    /// The need.
    pub need: Need,
    /// The content key of its predictions.
    pub key: String,
    /// What runs.
    pub kind: JobKind,
    /// Where it stands.
    pub status: JobStatus,
    /// Tasks it covers (a model's: its people's tasks).
    pub tasks: usize,
    /// Tasks already done.
    pub tasks_done: usize,
    /// Probes of its tasks still to run.
    pub probes_left: usize,
    /// Estimated prompt tokens still to run (characters / 4 of the rendered prompts; 0 for
    /// the baselines).
    pub tokens_left_estimate: u64,
    /// The experiments that need it.
    pub experiments: Vec<&'static str>,
}

/// What the runner reports while it works.
#[derive(Debug)]
pub enum Event<'a> {
    /// The jobs are planned.
    Planned {
        /// Every job.
        jobs: &'a [Job],
    },
    /// A job starts.
    JobStarted(&'a Job),
    /// A model finished one task.
    TaskDone {
        /// The job.
        job: &'a Job,
        /// Tokens the task ran through the model.
        tokens: usize,
    },
    /// A job is complete.
    JobDone(&'a Job),
    /// An experiment's section is written.
    ExperimentDone {
        /// Its label.
        label: &'static str,
        /// Seconds of its own jobs and rendering in this process.
        seconds: f64,
    },
}

/// One reasoner's output on a task set.
#[derive(Debug, Clone)]
pub struct Output {
    /// Stable name (`random`, `global`, `top1`, `top24`, `bayes`, or a reasoner's name).
    pub name: String,
    /// The label in tables.
    pub label: String,
    /// Exact per-setup accuracies (random choice, the Bayes ceiling): no predictions.
    pub exact: Option<Vec<f64>>,
    /// The predictions (empty for exact rows).
    pub predictions: Vec<Prediction>,
    /// The paper's row name to compare against, when known.
    pub paper: Option<String>,
}

/// Every need's outputs, loaded from the store.
#[derive(Debug, Default)]
pub struct Results {
    outputs: BTreeMap<(TaskRequest, String), Vec<Output>>,
    sweeps: BTreeMap<TaskRequest, Vec<SweepPoint>>,
    tasks: BTreeMap<TaskRequest, Vec<ProbeTask>>,
}

impl Results {
    /// The outputs of `reasoner` on `tasks` (the baselines give several).
    pub fn outputs(&self, tasks: &TaskRequest, reasoner: &str) -> &[Output] {
        self.outputs
            .get(&(tasks.clone(), reasoner.to_owned()))
            .map_or(&[], Vec::as_slice)
    }

    /// The resemble top-k sweep on `tasks`, when the baselines ran on them.
    pub fn sweep(&self, tasks: &TaskRequest) -> Option<&[SweepPoint]> {
        self.sweeps.get(tasks).map(Vec::as_slice)
    }

    /// The task set of `tasks`.
    pub fn tasks(&self, tasks: &TaskRequest) -> &[ProbeTask] {
        self.tasks.get(tasks).map_or(&[], Vec::as_slice)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct BaselineSummary {
    random: Vec<f64>,
    bayes: Option<Vec<f64>>,
    sweep: Vec<SweepPoint>,
    runs: Vec<(String, String)>,
    /// The recommended learned row, when the learned reasoners ran.
    #[serde(default)]
    recommended: Option<String>,
}

/// Plans and runs a plan's experiments into an output directory.
pub struct Runner {
    plan: Plan,
    out: PathBuf,
    meta: PathBuf,
    store: Store,
}

/// Everything the jobs and the report are made from.
struct Prepared {
    catalog: Catalog,
    data: Dataset,
    eval: EvaluationSet,
    criteria: EvalCriteria,
    demonstrations: usize,
    notes: Vec<String>,
    experiments: Vec<Box<dyn Experiment>>,
    jobs: Vec<Job>,
}

impl Runner {
    /// A runner of `plan` into `out` (its store in `out/store`), the metadata from the plan's
    /// `data.meta`, else `INDIEVALUE_META_DIR`.
    pub fn new(plan: Plan, out: impl Into<PathBuf>) -> Result<Runner> {
        let meta = indievalue_catalog::meta_dir(plan.data.meta.as_deref())?;
        Runner::with_meta(plan, out, meta)
    }

    /// A runner with the metadata directory given (the plan's `data.meta` still wins).
    pub fn with_meta(
        plan: Plan,
        out: impl Into<PathBuf>,
        meta: impl Into<PathBuf>,
    ) -> Result<Runner> {
        let out = out.into();
        let meta = plan.data.meta.clone().unwrap_or_else(|| meta.into());
        let store = Store::open(out.join("store"))?;
        Ok(Runner {
            plan,
            out,
            meta,
            store,
        })
    }

    /// The plan.
    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    fn plan_error(&self, key: &str, message: String) -> Error {
        Error::Plan {
            file: self.plan.source.clone(),
            key: key.to_owned(),
            message,
        }
    }

    fn prepare(&self) -> Result<Prepared> {
        let catalog = Catalog::load(&self.meta)?;
        let data = Dataset::prepare(&self.store, &catalog, &self.plan.data, self.plan.seed)
            .map_err(|e| match e {
                Error::Plan { key, message, .. } => self.plan_error(&key, message),
                other => other,
            })?;
        let setups = ProbeSetup::of_survey(&catalog);
        let (demonstrations, note) = self.plan.evaluation.demonstrations_for(&catalog);
        let mut criteria = EvalCriteria::of_survey(&catalog, Some(demonstrations));
        criteria.people = self.plan.evaluation.people;
        // Fewer qualifying people than asked is said in the report's notes.
        criteria.allow_fewer = true;
        let eval = select_evaluation_set(
            &catalog,
            &data.people,
            &data.answers,
            &setups,
            &criteria,
            self.plan.seed,
        )?;
        let mut notes = Vec::new();
        if eval.ids.len() < criteria.people {
            notes.push(format!(
                "{} evaluation people asked for, {} qualify in this survey",
                criteria.people,
                eval.ids.len()
            ));
        }
        notes.extend(note);
        let experiments = experiments_of(&self.plan)?;
        let mut prepared = Prepared {
            catalog,
            data,
            eval,
            criteria,
            demonstrations,
            notes,
            experiments,
            jobs: Vec::new(),
        };
        prepared.jobs = self.plan_jobs(&prepared)?;
        Ok(prepared)
    }

    /// The key of a task set.
    fn tasks_key(&self, p: &Prepared, request: &TaskRequest) -> String {
        Store::key(&serde_json::json!({
            "data": p.data.hash,
            "catalog": p.catalog.content_hash(),
            "seed": self.plan.seed,
            "criteria": p.criteria,
            "request": request,
        }))
    }

    /// The task set of `request`, built once and stored.
    fn tasks(&self, p: &Prepared, request: &TaskRequest) -> Result<Vec<ProbeTask>> {
        let key = self.tasks_key(p, request);
        let file = self.store.tasks_file(&key);
        if Store::is_complete(&file) {
            let (_, tasks): (_, Vec<ProbeTask>) = TaskFile::read(&file, &p.catalog, TASK_FORMAT)?;
            return Ok(tasks);
        }
        let setups = ProbeSetup::of_survey(&p.catalog);
        let spec = TaskSpec {
            setups: &setups,
            demos: DemoSpec {
                mode: DemoMode::Fixed(request.demonstrations),
                granularity: request.demo,
                demographics: request.demographics,
            },
            probe_granularity: Granularity::Polar,
            seed: self.plan.seed,
        };
        let (people, answers) = (&p.data.people, &p.data.answers);
        let rows = &p.eval.rows;
        let polar = match request.demo_category {
            Some(c) => build_category_tasks(&p.catalog, people, answers, rows, &spec, &[c]),
            None => build_probe_tasks(&p.catalog, people, answers, rows, &spec),
        };
        // Refined probes keep the polar tasks' demonstrations, so the two forms compare.
        let tasks = match request.probe {
            Granularity::Polar => polar,
            g => retarget_tasks(&p.catalog, people, answers, &polar, g)?,
        };
        let params = serde_json::json!({ "key": key, "request": request });
        let header = FileHeader::new(
            TASK_FORMAT,
            &p.catalog,
            self.plan.seed,
            indievalue_sampling::WRITTEN_BY,
            params.clone(),
        );
        indievalue_files::create_dir_all(file.parent().unwrap_or(Path::new(".")))?;
        TaskFile::write(&file, &header, &tasks)?;
        Store::mark_complete(&file, &params)?;
        Ok(tasks)
    }

    /// A model's tasks: those of its first `people` evaluation people.
    fn model_tasks(spec: &ReasonerSpec, tasks: &[ProbeTask]) -> Vec<ProbeTask> {
        let Some(n) = spec.people else {
            return tasks.to_vec();
        };
        let mut kept = BTreeSet::new();
        tasks
            .iter()
            .filter(|t| (kept.len() < n && kept.insert(t.person)) || kept.contains(&t.person))
            .cloned()
            .collect()
    }

    /// What identifies a reasoner's model: its files' hashes (and its adapter's), or a served
    /// model's base URL.
    fn reasoner_files(&self, spec: &ReasonerSpec) -> Result<serde_json::Value> {
        if let Some(url) = &spec.base_url {
            return Ok(serde_json::json!({ "served": url }));
        }
        let mut files = serde_json::json!({ "model": self.store.model_hashes(&spec.model)? });
        if let Some(adapter) = &spec.adapter {
            files["adapter"] = self.store.model_hashes(&adapter.display().to_string())?;
        }
        Ok(files)
    }

    /// Whether the baselines on `tasks` include the learned reasoners: with `learned = true`,
    /// on the main tasks only (polar demonstrations, the plan's count, no demographics, every
    /// category), where Table 4 / Table 15, the inequity tables, the per-category results and
    /// the group figures read them; the ablations keep the paper's baselines.
    fn learned_on(&self, p: &Prepared, tasks: &TaskRequest) -> bool {
        self.plan.evaluation.learned && *tasks == TaskRequest::main(tasks.probe, p.demonstrations)
    }

    fn job_key(&self, p: &Prepared, need: &Need) -> Result<String> {
        let tasks = self.tasks_key(p, &need.tasks);
        let reasoner = match self.plan.reasoner(&need.reasoner) {
            None => serde_json::json!({
                "baselines": indievalue_baselines::WRITTEN_BY,
                "top_k": self.plan.evaluation.top_k,
                "max_k": self.plan.evaluation.max_k,
                "learned": self.learned_on(p, &need.tasks),
            }),
            Some(spec) => {
                let mut reasoner = serde_json::json!({
                    "model": spec.model,
                    "files": self.reasoner_files(spec)?,
                    "mode": spec.mode,
                    "people": spec.people,
                    "dtype": spec.dtype_name(),
                    "probe": indievalue_probe::WRITTEN_BY,
                });
                if spec.base_url.is_some() {
                    // What changes a served model's answers; budgets, concurrency and the
                    // cache's place do not.
                    reasoner["served"] = serde_json::json!({
                        "top_logprobs": spec.top_logprobs,
                        "prefill": spec.prefill,
                        "chat_template": spec.chat_template,
                        "remote": indievalue_remote::WRITTEN_BY,
                    });
                }
                reasoner
            }
        };
        Ok(Store::key(
            &serde_json::json!({ "tasks": tasks, "reasoner": reasoner }),
        ))
    }

    fn plan_jobs(&self, p: &Prepared) -> Result<Vec<Job>> {
        let mut by_need: BTreeMap<Need, Vec<&'static str>> = BTreeMap::new();
        for x in &p.experiments {
            for need in x.needs(&self.plan, &p.catalog, p.demonstrations) {
                by_need.entry(need).or_default().push(x.label());
            }
        }
        let prompts = PromptBuilder::new(&p.catalog);
        let mut jobs = Vec::with_capacity(by_need.len());
        for (need, experiments) in by_need {
            let key = self.job_key(p, &need)?;
            let dir = self.store.predictions_dir(&key);
            let done = Store::is_complete(&dir);
            let mut job = Job {
                kind: if need.reasoner == BASELINES {
                    JobKind::Baselines
                } else {
                    JobKind::Model(need.reasoner.clone())
                },
                need,
                key,
                status: if done {
                    JobStatus::Done
                } else {
                    JobStatus::Todo
                },
                tasks: 0,
                tasks_done: 0,
                probes_left: 0,
                tokens_left_estimate: 0,
                experiments,
            };
            let all = self.tasks(p, &job.need.tasks)?;
            let tasks = match self.plan.reasoner(&job.need.reasoner) {
                Some(spec) => Runner::model_tasks(spec, &all),
                None => all,
            };
            job.tasks = tasks.len();
            if done {
                job.tasks_done = job.tasks;
            } else if let JobKind::Model(_) = job.kind {
                let finished = finished_tasks(
                    &dir.join(indievalue_probe::PREDICTIONS_FILE),
                    &p.catalog,
                    &tasks,
                );
                job.tasks_done = finished.len();
                if job.tasks_done > 0 {
                    job.status = JobStatus::Partial;
                }
                let spec = self.plan.reasoner(&job.need.reasoner);
                let generative = spec.is_some_and(|s| s.mode == crate::ModelMode::Generate);
                for t in tasks
                    .iter()
                    .filter(|t| !finished.contains(&(t.person, t.setup)))
                {
                    job.probes_left += t.probes.len();
                    job.tokens_left_estimate += prompt_tokens_estimate(&prompts, t, generative);
                }
            }
            jobs.push(job);
        }
        Ok(jobs)
    }

    /// The jobs the plan needs and where each stands, without running anything.
    pub fn dry_run(&self) -> Result<Vec<Job>> {
        Ok(self.prepare()?.jobs)
    }

    /// Runs every job not yet done, then writes the report. Rerun after an interruption, it
    /// resumes (a model job from its last finished task) and ends with the same report.
    pub fn run(&self, on_event: &mut dyn FnMut(Event<'_>)) -> Result<ReportFiles> {
        let p = self.prepare()?;
        on_event(Event::Planned { jobs: &p.jobs });
        let mut seconds: BTreeMap<&'static str, f64> = BTreeMap::new();
        let mut tokens: BTreeMap<&'static str, u64> = BTreeMap::new();
        let mut models: BTreeMap<String, LoadedModel> = BTreeMap::new();
        let mut clients: BTreeMap<String, Client> = BTreeMap::new();
        for job in &p.jobs {
            if job.status == JobStatus::Done {
                continue;
            }
            on_event(Event::JobStarted(job));
            let start = Instant::now();
            let mut used = 0u64;
            match &job.kind {
                JobKind::Baselines => self.run_baselines(&p, job)?,
                JobKind::Model(name) => {
                    let spec = self
                        .plan
                        .reasoner(name)
                        .ok_or_else(|| Error::Input(format!("no reasoner {name:?}")))?;
                    let mut on_task = |tokens: usize| {
                        used += tokens as u64;
                        on_event(Event::TaskDone { job, tokens });
                    };
                    if spec.base_url.is_some() {
                        // One client per served reasoner: its budgets span the run.
                        if !clients.contains_key(name) {
                            clients.insert(name.clone(), client(spec)?);
                        }
                        self.run_served(&p, job, spec, &clients[name], &mut on_task)?;
                    } else {
                        if !models.contains_key(name) {
                            models.insert(name.clone(), load(spec)?);
                        }
                        self.run_model(&p, job, spec, &models[name], &mut on_task)?;
                    }
                }
            }
            // A job's time and tokens go to the first experiment that needs it.
            if let Some(first) = job.experiments.first() {
                *seconds.entry(first).or_default() += start.elapsed().as_secs_f64();
                *tokens.entry(first).or_default() += used;
            }
            on_event(Event::JobDone(job));
        }
        drop(models);
        let results = self.load_results(&p)?;
        let ctx = RenderContext {
            plan: &self.plan,
            catalog: &p.catalog,
            data: &p.data,
            results: &results,
            out: &self.out,
            demonstrations: p.demonstrations,
            paper: self.plan.is_real_survey()
                && !p.catalog.survey().described
                && p.catalog.questions().len() == crate::paper::table1::QUESTIONS,
        };
        let mut sections = Vec::with_capacity(p.experiments.len());
        let mut timings = Vec::with_capacity(p.experiments.len());
        for x in &p.experiments {
            let start = Instant::now();
            sections.push(x.render(&ctx)?);
            let label = x.label();
            let secs = seconds.get(label).copied().unwrap_or(0.0) + start.elapsed().as_secs_f64();
            timings.push(ExperimentTiming {
                label: label.to_owned(),
                seconds: secs,
                model_tokens: tokens.get(label).copied().unwrap_or(0),
            });
            on_event(Event::ExperimentDone {
                label,
                seconds: secs,
            });
        }
        let models = self
            .plan
            .reasoners
            .iter()
            .map(|r| Ok((r.name.clone(), self.reasoner_files(r)?)))
            .collect::<Result<BTreeMap<_, _>>>()?;
        write_report(
            &self.out, &self.plan, &ctx, &p.notes, &sections, &timings, &p.jobs, &self.meta,
            &models,
        )
    }

    fn run_baselines(&self, p: &Prepared, job: &Job) -> Result<()> {
        let tasks = self.tasks(p, &job.need.tasks)?;
        let pool = p.eval.training_rows(p.data.people.len());
        let e = &self.plan.evaluation;
        let (people, answers) = (&p.data.people, &p.data.answers);
        let options = SuiteOptions {
            max_k: e.max_k,
            report_k: e.top_k,
            learned: self
                .learned_on(p, &job.need.tasks)
                .then(|| LearnedSettings::new(self.plan.seed)),
        };
        let results = run_baseline_suite(&p.catalog, people, answers, &pool, &tasks, &options)?;
        let dir = self.store.predictions_dir(&job.key);
        let params = serde_json::json!({ "key": job.key });
        results.write_predictions(&dir, &p.catalog, self.plan.seed, &params)?;
        let bayes = match &p.data.synthetic {
            Some(model) => Some(model.bayes_ceiling(&p.catalog, people, &tasks)?),
            None => None,
        };
        let summary = BaselineSummary {
            random: results.random.clone(),
            bayes,
            sweep: results.sweep.clone(),
            runs: results
                .runs
                .iter()
                .map(|r| (r.name.clone(), results.label_of(r)))
                .collect(),
            recommended: results.recommended(),
        };
        indievalue_files::write_json_atomic(&dir.join(BASELINE_SUMMARY), &summary)?;
        Store::mark_complete(
            &dir,
            &serde_json::json!({ "job": job.key, "need": format!("{:?}", job.need) }),
        )
    }

    fn run_model(
        &self,
        p: &Prepared,
        job: &Job,
        spec: &ReasonerSpec,
        model: &LoadedModel,
        on_task: &mut dyn FnMut(usize),
    ) -> Result<()> {
        let tasks = Runner::model_tasks(spec, &self.tasks(p, &job.need.tasks)?);
        let dir = self.store.predictions_dir(&job.key);
        let params = serde_json::json!({ "key": job.key, "reasoner": spec.name });
        let run = ProbeRun::new(
            model,
            &p.catalog,
            spec.mode.probe_mode(self.plan.seed),
            &dir,
            self.plan.seed,
            params,
        );
        run.run(&tasks, None, &mut |done| on_task(done.tokens))?;
        Store::mark_complete(
            &dir,
            &serde_json::json!({ "job": job.key, "reasoner": spec.name }),
        )
    }

    /// Runs a served model's job through its client, resuming like a local one; a spent budget
    /// stops the run with [`Error::Stopped`] (rerun to continue, nothing is asked twice).
    fn run_served(
        &self,
        p: &Prepared,
        job: &Job,
        spec: &ReasonerSpec,
        client: &Client,
        on_task: &mut dyn FnMut(usize),
    ) -> Result<()> {
        let tasks = Runner::model_tasks(spec, &self.tasks(p, &job.need.tasks)?);
        let dir = self.store.predictions_dir(&job.key);
        let mode = spec.mode.probe_mode(self.plan.seed);
        let predictor: Box<dyn TaskPredictor + '_> = match &mode {
            ProbeMode::Generate(settings) => {
                Box::new(RemoteGenerative::new(client, &p.catalog, settings.clone()))
            }
            ProbeMode::Score(target) => {
                let mut settings = RemoteScoringSettings {
                    target: *target,
                    ..RemoteScoringSettings::default()
                };
                if let Some(n) = spec.top_logprobs {
                    settings.top_logprobs = n;
                }
                if let Some(prefill) = &spec.prefill {
                    settings.prefill = prefill.parse().map_err(Error::Input)?;
                }
                let template = spec
                    .chat_template
                    .as_deref()
                    .map(indievalue_remote::chat_template_named)
                    .transpose()?;
                Box::new(RemoteScoring::new(client, &p.catalog, settings, template)?)
            }
        };
        let params = serde_json::json!({
            "mode": mode,
            "run": { "key": job.key, "reasoner": spec.name },
            "served": { "base_url": client.endpoint().base_url, "model": client.endpoint().model },
        });
        let run = ProbeRun::with_predictor(predictor, &p.catalog, &dir, self.plan.seed, params);
        let outcome = run.run(&tasks, None, &mut |done| on_task(done.tokens))?;
        if let Some(why) = outcome.stopped {
            return Err(Error::Stopped(format!(
                "{}: budget reached ({why}) after {} tasks; rerun to continue",
                spec.name,
                outcome.resumed + outcome.ran
            )));
        }
        Store::mark_complete(
            &dir,
            &serde_json::json!({ "job": job.key, "reasoner": spec.name }),
        )
    }

    fn load_results(&self, p: &Prepared) -> Result<Results> {
        let mut results = Results::default();
        for job in &p.jobs {
            let request = job.need.tasks.clone();
            if !results.tasks.contains_key(&request) {
                results
                    .tasks
                    .insert(request.clone(), self.tasks(p, &request)?);
            }
            let dir = self.store.predictions_dir(&job.key);
            let outputs = match &job.kind {
                JobKind::Baselines => {
                    let summary: BaselineSummary =
                        indievalue_files::read_json(&dir.join(BASELINE_SUMMARY))?;
                    let mut outputs = vec![Output {
                        name: "random".into(),
                        label: "Random (exact)".into(),
                        exact: Some(summary.random.clone()),
                        predictions: Vec::new(),
                        paper: Some("Random".into()),
                    }];
                    for (name, label) in &summary.runs {
                        let (_, predictions) =
                            PredictionsFile::read(dir.join(format!("{name}.jsonl")), &p.catalog)?;
                        outputs.push(Output {
                            name: name.clone(),
                            label: label.clone(),
                            exact: None,
                            predictions,
                            paper: crate::paper::baseline_row(name).map(|r| r.name.to_owned()),
                        });
                    }
                    if let Some(bayes) = &summary.bayes {
                        outputs.push(Output {
                            name: "bayes".into(),
                            label: "Bayes ceiling (exact)".into(),
                            exact: Some(bayes.clone()),
                            predictions: Vec::new(),
                            paper: None,
                        });
                    }
                    results.sweeps.insert(request.clone(), summary.sweep);
                    outputs
                }
                JobKind::Model(name) => {
                    let spec = self
                        .plan
                        .reasoner(name)
                        .ok_or_else(|| Error::Input(format!("no reasoner {name:?}")))?;
                    let file = dir.join(indievalue_probe::PREDICTIONS_FILE);
                    let (_, predictions) = PredictionsFile::read(&file, &p.catalog)?;
                    vec![Output {
                        name: name.clone(),
                        label: spec.label(),
                        exact: None,
                        predictions,
                        paper: spec.paper.clone(),
                    }]
                }
            };
            results
                .outputs
                .insert((request, job.need.reasoner.clone()), outputs);
        }
        Ok(results)
    }
}

/// The tokens a task runs through a model, estimated as characters / 4: scoring shares one
/// prefix (the known statements) per task and adds each option; the generative protocol reads
/// the B.1 prompt and writes about 40 tokens per probe.
fn prompt_tokens_estimate(prompts: &PromptBuilder<'_>, task: &ProbeTask, generative: bool) -> u64 {
    let chars = if generative {
        prompts.probing_prompt(task).map_or(0, |s| s.len()) + 160 * task.probes.len()
    } else {
        let options: usize = task
            .probes
            .iter()
            .map(|p| {
                prompts
                    .probe_options(task, p)
                    .map_or(0, |o| o.iter().map(|s| s.len() + 12).sum())
            })
            .sum();
        prompts.known_statements(task).map_or(0, |s| s.len()) + options
    };
    chars as u64 / 4
}

/// The client of a served reasoner.
fn client(spec: &ReasonerSpec) -> Result<Client> {
    let base_url = spec
        .base_url
        .clone()
        .ok_or_else(|| Error::Input(format!("{}: not a served model", spec.name)))?;
    let endpoint = Endpoint {
        base_url,
        model: spec.model.clone(),
        api_key_env: spec
            .api_key_env
            .clone()
            .unwrap_or_else(|| "OPENAI_API_KEY".into()),
    };
    let settings = ClientSettings {
        concurrency: spec.concurrency.unwrap_or(4),
        max_requests: spec.max_requests,
        max_tokens_total: spec.max_tokens_total,
        ..ClientSettings::default()
    };
    let cache = spec.cache.clone().unwrap_or_else(default_cache_dir);
    Ok(Client::new(endpoint, settings, ResponseCache::new(cache)))
}

/// Loads a reasoner's model (its adapter merged).
fn load(spec: &ReasonerSpec) -> Result<LoadedModel> {
    let options = LoadOptions {
        dtype: parse_dtype(&spec.dtype_name())?,
        device: device_from_name(&spec.device)?,
        ..LoadOptions::default()
    };
    let source = ModelSource::parse(&spec.model);
    Ok(match &spec.adapter {
        Some(dir) => indievalue_finetune::load_with_adapter(&source, &options, dir)?,
        None => load_model(&source, &options)?,
    })
}

/// The (person, setup) of `tasks` whose every probe is in the predictions file.
fn finished_tasks(file: &Path, catalog: &Catalog, tasks: &[ProbeTask]) -> BTreeSet<(i64, usize)> {
    let Ok((_, predictions)) = PredictionsFile::read(file, catalog) else {
        return BTreeSet::new();
    };
    let mut counts: BTreeMap<(i64, usize), usize> = BTreeMap::new();
    for p in &predictions {
        *counts.entry((p.person, p.setup)).or_default() += 1;
    }
    tasks
        .iter()
        .filter(|t| counts.get(&(t.person, t.setup)) == Some(&t.probes.len()))
        .map(|t| (t.person, t.setup))
        .collect()
}
