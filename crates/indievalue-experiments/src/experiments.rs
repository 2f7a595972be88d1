//! The experiments of the paper's evaluation: Tables 1 and 6 (the data), Table 4 / Table 15 /
//! Figure 2 (accuracy), Table 20 (the top-k sweep), Table 2 / Table 16 (the Value Inequity
//! Index). A new experiment is a type implementing [`Experiment`] and a line in
//! [`experiments_of`] and [`known_keys`].

use crate::ablations::{
    CategoryDemosExperiment, DemoFormExperiment, DemographicsExperiment, DemonstrationsExperiment,
    GroupsExperiment,
};
use crate::experiment::{Experiment, Need, RenderContext, Section, TaskRequest};
use crate::paper;
use crate::plan::Plan;
use crate::runner::Output;
use crate::{Error, Result};
use indievalue_catalog::{Catalog, Category, Granularity};
use indievalue_metrics::{AccuracyReport, Bootstrap, Dimension, InequityIndex, Table};
use indievalue_sampling::ProbeSetup;
use std::collections::BTreeSet;
use std::fmt::Write as _;

/// The experiment kinds a plan may name.
pub const KINDS: [&str; 9] = [
    "catalog",
    "accuracy",
    "top-k",
    "inequity",
    "demonstrations",
    "demo-form",
    "category-demos",
    "demographics",
    "groups",
];

/// The keys an `[[experiment]]` of `kind` may have (`None`: unknown kind).
pub(crate) fn known_keys(kind: &str) -> Option<&'static [&'static str]> {
    match kind {
        "catalog" | "top-k" => Some(&["kind"]),
        "accuracy" | "inequity" | "demo-form" | "category-demos" | "demographics" => {
            Some(&["kind", "reasoners"])
        }
        "demonstrations" => Some(&["kind", "reasoners", "counts"]),
        "groups" => Some(&["kind", "reasoner", "over"]),
        _ => None,
    }
}

/// The plan's experiments, in plan order.
pub fn experiments_of(plan: &Plan) -> Result<Vec<Box<dyn Experiment>>> {
    plan.experiments
        .iter()
        .enumerate()
        .map(|(i, spec)| -> Result<Box<dyn Experiment>> {
            Ok(match spec.kind.as_str() {
                "catalog" => Box::new(CatalogExperiment),
                "accuracy" => Box::new(AccuracyExperiment {
                    reasoners: plan.reasoners_of(spec),
                }),
                "top-k" => Box::new(TopKExperiment),
                "inequity" => Box::new(InequityExperiment {
                    reasoners: plan.reasoners_of(spec),
                }),
                "demonstrations" => Box::new(DemonstrationsExperiment {
                    reasoners: plan.reasoners_of(spec),
                    counts: spec
                        .counts
                        .clone()
                        .unwrap_or_else(|| vec![50, 100, 150, 200]),
                }),
                "demo-form" => Box::new(DemoFormExperiment {
                    reasoners: plan.reasoners_of(spec),
                }),
                "category-demos" => Box::new(CategoryDemosExperiment {
                    reasoners: plan.reasoners_of(spec),
                }),
                "demographics" => Box::new(DemographicsExperiment {
                    reasoners: plan.reasoners_of(spec),
                }),
                "groups" => {
                    let key = |k: &str| format!("experiment[{i}].{k}");
                    let name = |k: &str, v: &Option<String>| -> Result<String> {
                        let v = v.clone().ok_or_else(|| Error::Plan {
                            file: plan.source.clone(),
                            key: key(k),
                            message:
                                "missing (a [[reasoner]] name, or global, top1, topK, weighted, \
                                      logistic, latent, blend)"
                                    .into(),
                        })?;
                        if crate::ablations::owner_of(plan, &v).is_none() {
                            return Err(Error::Plan {
                                file: plan.source.clone(),
                                key: key(k),
                                message: format!(
                                    "{v:?} is neither a [[reasoner]] nor a baseline with people \
                                     (global, top1, top{}; weighted, logistic, latent, blend \
                                     unless learned = false)",
                                    plan.evaluation.top_k
                                ),
                            });
                        }
                        Ok(v)
                    };
                    Box::new(GroupsExperiment {
                        reasoner: name("reasoner", &spec.reasoner)?,
                        over: name("over", &spec.over)?,
                    })
                }
                other => {
                    return Err(Error::Plan {
                        file: plan.source.clone(),
                        key: format!("experiment[{i}].kind"),
                        message: format!("unknown experiment {other:?}"),
                    });
                }
            })
        })
        .collect()
}

fn f2(v: f64) -> String {
    if v.is_finite() {
        format!("{v:.2}")
    } else {
        "-".to_owned()
    }
}

fn bootstrap(ctx: &RenderContext<'_>) -> Bootstrap {
    Bootstrap {
        samples: ctx.plan.evaluation.bootstrap,
        seed: ctx.plan.seed,
        level: 0.95,
    }
}

/// The people an output's predictions cover.
fn people_of(output: &Output) -> BTreeSet<i64> {
    output.predictions.iter().map(|p| p.person).collect()
}

/// A note when the data is synthetic: the numbers show the machinery.
fn synthetic_note(ctx: &RenderContext<'_>) -> &'static str {
    if ctx.data.is_synthetic() {
        "\nThe people are synthetic: these numbers show the machinery at work, not anyone's \
         values, and the paper's columns are left out.\n"
    } else {
        ""
    }
}

/// Tables 1 and 6: the catalog and the converted survey.
#[derive(Debug, Clone, Copy)]
pub struct CatalogExperiment;

impl Experiment for CatalogExperiment {
    fn kind(&self) -> &'static str {
        "catalog"
    }

    fn label(&self) -> &'static str {
        "Table 1 / Table 6"
    }

    fn needs(&self, _plan: &Plan, _catalog: &Catalog, _demonstrations: usize) -> Vec<Need> {
        Vec::new()
    }

    fn render(&self, ctx: &RenderContext<'_>) -> Result<Section> {
        let stats = ctx.catalog.stats();
        let full = stats.questions == paper::table1::QUESTIONS && !ctx.catalog.survey().described;
        let polar = stats.answer_space(Granularity::Polar).scientific(3);
        let refined = stats.answer_space(Granularity::Refined).scientific(3);
        let mut t1 = Table::new(if full {
            vec!["Table 1", "ours", "paper"]
        } else {
            vec!["Table 1", "ours"]
        });
        let mut push = |name: &str, ours: String, theirs: String| {
            if full {
                t1.push([name.to_owned(), ours, theirs]);
            } else {
                t1.push([name.to_owned(), ours]);
            }
        };
        use paper::table1 as p1;
        push(
            "#Questions",
            stats.questions.to_string(),
            p1::QUESTIONS.to_string(),
        );
        push(
            "#Statements (polar)",
            stats.statements_polar.to_string(),
            p1::STATEMENTS_POLAR.to_string(),
        );
        push(
            "#Statements (refined)",
            stats.statements_refined.to_string(),
            p1::STATEMENTS_REFINED.to_string(),
        );
        push(
            "Answer space (polar)",
            polar,
            p1::ANSWER_SPACE_POLAR.to_owned(),
        );
        push(
            "Answer space (refined)",
            refined,
            p1::ANSWER_SPACE_REFINED.to_owned(),
        );
        if let Some(r) = &ctx.data.conversion {
            // The survey's own figures only compare on the real survey.
            let real = ctx.paper;
            let theirs = |s: String| if real { s } else { "-".to_owned() };
            push(
                "#People",
                r.people.to_string(),
                theirs(p1::PEOPLE.to_string()),
            );
            push(
                "#Valid answers",
                r.valid_answers.to_string(),
                theirs(p1::VALID_ANSWERS.to_owned()),
            );
            push(
                "Valid answers per person",
                format!(
                    "{:.2} (sd {:.2})",
                    r.valid_per_person_mean, r.valid_per_person_sd
                ),
                theirs(format!(
                    "{:.2} (sd {:.2})",
                    p1::VALID_PER_PERSON_MEAN,
                    p1::VALID_PER_PERSON_SD
                )),
            );
            push(
                &format!("People with all {} answers", r.questions),
                r.people_all_253.to_string(),
                theirs(p1::PEOPLE_ALL_253.to_string()),
            );
        }
        let mut headers = vec![
            "Table 6: category",
            "#Q",
            "polar #S",
            "#S/#Q",
            "refined #S",
            "#S/#Q",
        ];
        if full {
            headers.extend(["paper #Q", "paper polar #S", "paper refined #S"]);
        }
        let mut t6 = Table::new(headers);
        for row in &stats.categories {
            let mut cells = vec![
                row.name.clone(),
                row.questions.to_string(),
                row.polar.to_string(),
                f2(row.polar_per_question()),
                row.refined.to_string(),
                f2(row.refined_per_question()),
            ];
            if full && let Some((q, p, r)) = paper::table6(&row.name) {
                cells.extend([q.to_string(), p.to_string(), r.to_string()]);
            }
            t6.push(cells);
        }
        let mut body = String::new();
        let source = match &ctx.data.source {
            crate::DataSource::Synthetic(s) => format!("a synthetic survey of {} people", s.people),
            crate::DataSource::Csv(p) => format!("the raw survey {}", p.display()),
            crate::DataSource::Dataset(p) => format!("the converted dataset {}", p.display()),
        };
        let _ = writeln!(
            body,
            "The catalog ({} questions) and {source}.{}\n",
            stats.questions,
            if full {
                ""
            } else {
                " This is not the full catalog: the paper's columns are left out."
            }
        );
        body.push_str(&ctx.table("table1", &t1)?);
        body.push('\n');
        body.push_str(&ctx.table("table6", &t6)?);
        body.push_str(synthetic_note(ctx));
        Ok(Section {
            heading: "Table 1 / Table 6: the catalog and the survey".into(),
            body,
        })
    }
}

/// Table 4 / Table 15 / Figure 2: every reasoner's accuracy per setup, polar and refined.
#[derive(Debug, Clone)]
pub struct AccuracyExperiment {
    /// The reasoners, in row order.
    pub reasoners: Vec<String>,
}

/// One row's measures on one probe form.
struct Measured {
    per_setup: Vec<f64>,
    report: Option<AccuracyReport>,
}

fn measure(
    ctx: &RenderContext<'_>,
    output: &Output,
    only: Option<&BTreeSet<i64>>,
) -> Result<Measured> {
    if let Some(exact) = &output.exact {
        return Ok(Measured {
            per_setup: exact.clone(),
            report: None,
        });
    }
    let predictions: Vec<_> = match only {
        Some(people) => output
            .predictions
            .iter()
            .filter(|p| people.contains(&p.person))
            .cloned()
            .collect(),
        None => output.predictions.clone(),
    };
    let report = AccuracyReport::compute(ctx.catalog, &predictions, &bootstrap(ctx))?;
    Ok(Measured {
        per_setup: report.per_setup.values().copied().collect(),
        report: Some(report),
    })
}

fn mean(v: &[f64]) -> f64 {
    indievalue_metrics::setup_average(v)
}

impl AccuracyExperiment {
    fn table4(
        &self,
        ctx: &RenderContext<'_>,
        only: Option<&BTreeSet<i64>>,
    ) -> Result<(Table, Vec<(String, AccuracyReport)>)> {
        let polar_req = TaskRequest::main(Granularity::Polar, ctx.demonstrations);
        let refined_req = TaskRequest::main(Granularity::Refined, ctx.demonstrations);
        let setups = ProbeSetup::of_survey(ctx.catalog).len();
        let mut headers: Vec<String> = vec!["Reasoner".into(), "people".into()];
        for form in ["polar", "refined"] {
            headers.extend((1..=setups).map(|s| format!("{form} {s}")));
            headers.push(format!("{form} avg"));
        }
        headers.extend(["all".into(), "polar 95% CI".into(), "refined 95% CI".into()]);
        if ctx.paper {
            headers.extend([
                "paper polar avg".into(),
                "paper refined avg".into(),
                "paper all".into(),
            ]);
        }
        let mut table = Table::new(headers);
        let mut reports = Vec::new();
        for name in &self.reasoners {
            let polar = ctx.results.outputs(&polar_req, name);
            let refined = ctx.results.outputs(&refined_req, name);
            for (p, r) in polar.iter().zip(refined) {
                if only.is_some() && p.exact.is_some() {
                    continue;
                }
                let (mp, mr) = (measure(ctx, p, only)?, measure(ctx, r, only)?);
                let people = mp
                    .report
                    .as_ref()
                    .map_or("-".to_owned(), |r| r.people.to_string());
                let mut cells = vec![p.label.clone(), people];
                for m in [&mp, &mr] {
                    cells.extend(m.per_setup.iter().map(|&v| f2(v)));
                    cells.push(f2(mean(&m.per_setup)));
                }
                cells.push(f2((mean(&mp.per_setup) + mean(&mr.per_setup)) / 2.0));
                for m in [&mp, &mr] {
                    cells.push(match &m.report {
                        Some(r) if ctx.plan.evaluation.bootstrap > 0 => {
                            format!("{:.2}-{:.2}", r.ci_low, r.ci_high)
                        }
                        Some(_) => "-".into(),
                        None => "exact".into(),
                    });
                }
                if ctx.paper {
                    match p.paper.as_deref().and_then(paper::table4_row) {
                        Some(row) => {
                            cells.extend([f2(row.polar_avg), f2(row.refined_avg), f2(row.all)])
                        }
                        None => cells.extend(["-".into(), "-".into(), "-".into()]),
                    }
                }
                table.push(cells);
                if let Some(report) = mp.report {
                    reports.push((p.label.clone(), report));
                }
            }
        }
        Ok((table, reports))
    }
}

impl Experiment for AccuracyExperiment {
    fn kind(&self) -> &'static str {
        "accuracy"
    }

    fn label(&self) -> &'static str {
        "Table 4 / Table 15 / Figure 2"
    }

    fn needs(&self, _plan: &Plan, _catalog: &Catalog, demonstrations: usize) -> Vec<Need> {
        let mut needs = Vec::new();
        for probe in [Granularity::Polar, Granularity::Refined] {
            for reasoner in &self.reasoners {
                needs.push(Need {
                    tasks: TaskRequest::main(probe, demonstrations),
                    reasoner: reasoner.clone(),
                });
            }
        }
        needs
    }

    fn render(&self, ctx: &RenderContext<'_>) -> Result<Section> {
        let (t4, reports) = self.table4(ctx, None)?;
        let mut body = String::new();
        let people = ctx
            .results
            .tasks(&TaskRequest::main(Granularity::Polar, ctx.demonstrations));
        let n: BTreeSet<i64> = people.iter().map(|t| t.person).collect();
        let _ = writeln!(
            body,
            "{} evaluation people, {} polar demonstrations per task, {} probe setups; refined \
             probes keep the polar tasks' demonstrations. Intervals: 95 % bootstrap over people \
             ({} resamples).\n",
            n.len(),
            ctx.demonstrations,
            ProbeSetup::of_survey(ctx.catalog).len(),
            ctx.plan.evaluation.bootstrap
        );
        body.push_str("### Table 4\n\n");
        body.push_str(&ctx.table("table4", &t4)?);
        // Reasoners run on fewer people: the baselines on the same people.
        let polar_req = TaskRequest::main(Granularity::Polar, ctx.demonstrations);
        let mut subsets: BTreeSet<BTreeSet<i64>> = BTreeSet::new();
        for name in &self.reasoners {
            for o in ctx.results.outputs(&polar_req, name) {
                let covered = people_of(o);
                if o.exact.is_none() && !covered.is_empty() && covered.len() < n.len() {
                    subsets.insert(covered);
                }
            }
        }
        for (i, only) in subsets.iter().enumerate() {
            let (t, _) = self.table4(ctx, Some(only))?;
            let _ = writeln!(
                body,
                "\nA reasoner that ran on fewer people compares with the baselines on those \
                 same {} people:\n",
                only.len()
            );
            body.push_str(&ctx.table(&format!("table4_subset{}", i + 1), &t)?);
        }

        // Table 15: polar, per setup.
        let mut headers = vec![
            "Table 15: reasoner (polar)".to_owned(),
            "setup 1".into(),
            "setup 2".into(),
            "setup 3".into(),
            "overall".into(),
        ];
        if ctx.paper {
            headers.extend([
                "paper 1".into(),
                "paper 2".into(),
                "paper 3".into(),
                "paper overall".into(),
            ]);
        }
        let mut t15 = Table::new(headers);
        for name in &self.reasoners {
            for o in ctx.results.outputs(&polar_req, name) {
                let m = measure(ctx, o, None)?;
                let mut cells = vec![o.label.clone()];
                cells.extend(m.per_setup.iter().map(|&v| f2(v)));
                cells.push(f2(mean(&m.per_setup)));
                if ctx.paper {
                    let theirs = o.paper.as_deref().and_then(|name| {
                        paper::table15_row(name).or_else(|| {
                            paper::table4_row(name)
                                .map(|r| [r.polar[0], r.polar[1], r.polar[2], r.polar_avg])
                        })
                    });
                    match theirs {
                        Some(v) => cells.extend(v.iter().map(|&x| f2(x))),
                        None => cells.extend(std::iter::repeat_n("-".to_owned(), 4)),
                    }
                }
                t15.push(cells);
            }
        }
        body.push_str("\n### Table 15\n\n");
        body.push_str(&ctx.table("table15", &t15)?);

        // Figure 2: accuracy per category (polar), every reasoner with predictions.
        body.push_str("\n### Figure 2\n\n");
        let categories: Vec<Category> = ctx.catalog.categories();
        let labelled: Vec<(String, &AccuracyReport)> =
            reports.iter().map(|(l, r)| (l.clone(), r)).collect();
        indievalue_metrics::plots::report_categories(
            ctx.plot_stem("figure2")?,
            "Accuracy per category (polar probes)",
            ctx.catalog,
            &categories,
            &labelled,
        )?;
        let _ = writeln!(
            body,
            "Accuracy per question category on polar probes, categories in the catalog's order \
             (Table 6), one bar per reasoner; each reasoner on its own people (see the people \
             column above).\n"
        );
        body.push_str(&ctx.plot_link("figure2", "Figure 2: accuracy per category"));
        body.push_str(synthetic_note(ctx));
        Ok(Section {
            heading: "Table 4 / Table 15 / Figure 2: accuracy of every reasoner".into(),
            body,
        })
    }
}

/// Table 20: the resemble top-k sweep.
#[derive(Debug, Clone, Copy)]
pub struct TopKExperiment;

impl Experiment for TopKExperiment {
    fn kind(&self) -> &'static str {
        "top-k"
    }

    fn label(&self) -> &'static str {
        "Table 20"
    }

    fn needs(&self, _plan: &Plan, _catalog: &Catalog, demonstrations: usize) -> Vec<Need> {
        [Granularity::Polar, Granularity::Refined]
            .into_iter()
            .map(|probe| Need {
                tasks: TaskRequest::main(probe, demonstrations),
                reasoner: crate::plan::BASELINES.into(),
            })
            .collect()
    }

    fn render(&self, ctx: &RenderContext<'_>) -> Result<Section> {
        let polar = ctx
            .results
            .sweep(&TaskRequest::main(Granularity::Polar, ctx.demonstrations))
            .unwrap_or_default();
        let refined = ctx
            .results
            .sweep(&TaskRequest::main(Granularity::Refined, ctx.demonstrations))
            .unwrap_or_default();
        let setups = ProbeSetup::of_survey(ctx.catalog).len();
        let mut headers: Vec<String> = vec!["k".into()];
        for form in ["polar", "refined"] {
            headers.extend((1..=setups).map(|s| format!("{form} {s}")));
            headers.push(format!("{form} avg"));
        }
        headers.push("overall".into());
        if ctx.paper {
            headers.push("paper overall".into());
        }
        let mut table = Table::new(headers);
        let (mut ks, mut lp, mut lr, mut lo, mut lpaper) = (vec![], vec![], vec![], vec![], vec![]);
        for (p, r) in polar.iter().zip(refined) {
            let mut cells = vec![p.k.to_string()];
            cells.extend(p.per_setup.values().map(|&v| f2(v)));
            cells.push(f2(p.average));
            cells.extend(r.per_setup.values().map(|&v| f2(v)));
            cells.push(f2(r.average));
            let overall = (p.average + r.average) / 2.0;
            cells.push(f2(overall));
            let theirs = paper::TABLE20
                .iter()
                .find(|(k, _)| *k == p.k)
                .map(|(_, v)| v[8]);
            if ctx.paper {
                cells.push(theirs.map_or("-".into(), f2));
            }
            table.push(cells);
            ks.push(p.k);
            lp.push(p.average);
            lr.push(r.average);
            lo.push(overall);
            lpaper.push(theirs.unwrap_or(f64::NAN));
        }
        let mut lines = vec![
            ("polar avg".to_owned(), lp),
            ("refined avg".to_owned(), lr),
            ("overall".to_owned(), lo),
        ];
        if ctx.paper {
            lines.push(("paper overall".to_owned(), lpaper));
        }
        indievalue_metrics::plots::top_k_sweep(
            ctx.plot_stem("table20")?,
            "Resemble (top cluster): accuracy against k",
            &ks,
            &lines,
        )?;
        let mut body = String::new();
        let _ = writeln!(
            body,
            "The majority answer of the k training people who share the most demonstration \
             answers with the person, k = 1..{}; Table 4 reports k = {}.\n",
            ctx.plan.evaluation.max_k, ctx.plan.evaluation.top_k
        );
        body.push_str(&ctx.table("table20", &table)?);
        body.push('\n');
        body.push_str(&ctx.plot_link("table20", "Table 20: accuracy against k"));
        body.push_str(synthetic_note(ctx));
        Ok(Section {
            heading: "Table 20: the resemble top-k sweep".into(),
            body,
        })
    }
}

/// Table 2 / Table 16: the Value Inequity Index of every reasoner, per dimension.
#[derive(Debug, Clone)]
pub struct InequityExperiment {
    /// The reasoners, in column order.
    pub reasoners: Vec<String>,
}

/// The Table 16 column of a paper row name (its Table 4 or Table 15 spelling).
fn table16_model(name: &str) -> Option<&'static str> {
    if let Some(m) = paper::TABLE16_MODELS.iter().find(|m| **m == name) {
        return Some(m);
    }
    match name {
        "Llama-3.1-8B (200 demo.)" => Some("LLama-3.1-8B"),
        "GPT-4o (200 demo.)" => Some("GPT-4o (0806)"),
        _ => None,
    }
}

impl Experiment for InequityExperiment {
    fn kind(&self) -> &'static str {
        "inequity"
    }

    fn label(&self) -> &'static str {
        "Table 2 / Table 16"
    }

    fn needs(&self, _plan: &Plan, _catalog: &Catalog, demonstrations: usize) -> Vec<Need> {
        self.reasoners
            .iter()
            .map(|r| Need {
                tasks: TaskRequest::main(Granularity::Polar, demonstrations),
                reasoner: r.clone(),
            })
            .collect()
    }

    fn render(&self, ctx: &RenderContext<'_>) -> Result<Section> {
        let request = TaskRequest::main(Granularity::Polar, ctx.demonstrations);
        let dims = Dimension::of_survey(ctx.catalog);
        let no_interval = Bootstrap {
            samples: 0,
            ..bootstrap(ctx)
        };
        let mut columns: Vec<(String, usize, InequityIndex, Option<&'static str>)> = Vec::new();
        for name in &self.reasoners {
            for o in ctx.results.outputs(&request, name) {
                if o.exact.is_some() {
                    continue; // exact rows have no people
                }
                let report = AccuracyReport::compute(ctx.catalog, &o.predictions, &no_interval)?;
                let index = InequityIndex::compute(
                    ctx.catalog,
                    &ctx.data.people,
                    &report.per_person,
                    &dims,
                    1,
                )?;
                let theirs = if ctx.paper {
                    o.paper.as_deref().and_then(table16_model)
                } else {
                    None
                };
                columns.push((o.label.clone(), report.people, index, theirs));
            }
        }
        let mut headers = vec!["Table 16: dimension".to_owned()];
        for (label, _, _, theirs) in &columns {
            headers.push(label.clone());
            if let Some(m) = theirs {
                headers.push(format!("paper {m}"));
            }
        }
        let mut t16 = Table::new(headers);
        for d in &dims {
            let mut cells = vec![d.name.clone()];
            for (_, _, index, theirs) in &columns {
                let sd = index
                    .rows
                    .iter()
                    .find(|r| r.dimension == d.name)
                    .and_then(|r| r.sd);
                cells.push(sd.map_or("-".into(), f2));
                if let Some(m) = theirs {
                    cells.push(paper::table16(&d.name, m).map_or("-".into(), f2));
                }
            }
            t16.push(cells);
        }
        let mut avg = vec!["Average (sigma-INEQUITY)".to_owned()];
        for (_, _, index, theirs) in &columns {
            avg.push(f2(index.index));
            if let Some(m) = theirs {
                avg.push(paper::table16("Average", m).map_or("-".into(), f2));
            }
        }
        t16.push(avg);
        let mut headers = vec!["Table 2: reasoner", "people", "sigma-INEQUITY"];
        if ctx.paper {
            headers.push("paper");
        }
        let mut t2 = Table::new(headers);
        for (label, people, index, theirs) in &columns {
            let mut cells = vec![label.clone(), people.to_string(), f2(index.index)];
            if ctx.paper {
                cells.push(
                    theirs
                        .and_then(|m| paper::table16("Average", m))
                        .map_or("-".into(), f2),
                );
            }
            t2.push(cells);
        }
        let mut body = String::new();
        let _ = writeln!(
            body,
            "Per dimension, the sample standard deviation (ddof 1) of the group accuracies on \
             polar probes, in percentage points; the index is their mean over dimensions. \
             Lower is fairer. A dimension with fewer than two groups among the people has no \
             value (-). Dimensions in Table 16's order.\n"
        );
        body.push_str("### Table 2\n\n");
        body.push_str(&ctx.table("table2", &t2)?);
        body.push_str("\n### Table 16\n\n");
        body.push_str(&ctx.table("table16", &t16)?);
        body.push_str(synthetic_note(ctx));
        Ok(Section {
            heading: "Table 2 / Table 16: the Value Inequity Index".into(),
            body,
        })
    }
}
