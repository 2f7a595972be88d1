//! The paper's ablations: what a reasoner is shown. Figure 5 / Figure 10 (how many
//! demonstrations, with and without demographics), Table 14 (refined or polar demonstrations
//! for polar probes), Figure 8 (demonstrations from one category at a time), Table 5
//! (demographics only, statements only, both), Figures 4, 9, 11-21 (accuracy per demographic
//! group, and one reasoner's change over another's).

use crate::experiment::{Experiment, Need, RenderContext, Section, TaskRequest};
use crate::paper;
use crate::plan::{BASELINES, Plan};
use crate::runner::Output;
use crate::{Error, Result};
use indievalue_catalog::{Catalog, Granularity};
use indievalue_metrics::{AccuracyReport, Bootstrap, Dimension, InequityIndex, Table};
use std::fmt::Write as _;

fn f2(v: f64) -> String {
    if v.is_finite() {
        format!("{v:.2}")
    } else {
        "-".to_owned()
    }
}

fn exact_free(ctx: &RenderContext<'_>) -> Bootstrap {
    Bootstrap {
        samples: 0,
        seed: ctx.plan.seed,
        level: 0.95,
    }
}

/// Polar accuracy per setup and its average of an output (exact rows as they are).
fn polar_accuracy(ctx: &RenderContext<'_>, o: &Output) -> Result<(Vec<f64>, f64)> {
    let per_setup = match &o.exact {
        Some(v) => v.clone(),
        None => AccuracyReport::compute(ctx.catalog, &o.predictions, &exact_free(ctx))?
            .per_setup
            .values()
            .copied()
            .collect(),
    };
    let avg = indievalue_metrics::setup_average(&per_setup);
    Ok((per_setup, avg))
}

fn synthetic_note(ctx: &RenderContext<'_>) -> &'static str {
    if ctx.data.is_synthetic() {
        "\nThe people are synthetic: these numbers show the machinery at work, not anyone's \
         values.\n"
    } else {
        ""
    }
}

/// Figure 5 / Figure 10: accuracy against the number of demonstrations, with and without the
/// person's demographic statements first.
#[derive(Debug, Clone)]
pub struct DemonstrationsExperiment {
    /// The reasoners.
    pub reasoners: Vec<String>,
    /// Demonstration counts as the paper counts them (scaled to the catalog at run time).
    pub counts: Vec<usize>,
}

impl DemonstrationsExperiment {
    fn requests(
        &self,
        demonstrations_for: impl Fn(usize) -> usize,
    ) -> Vec<(usize, usize, bool, TaskRequest)> {
        let mut out = Vec::new();
        for &count in &self.counts {
            let scaled = demonstrations_for(count);
            for demographics in [false, true] {
                let mut r = TaskRequest::main(Granularity::Polar, scaled);
                r.demographics = demographics;
                out.push((count, scaled, demographics, r));
            }
        }
        out
    }
}

impl Experiment for DemonstrationsExperiment {
    fn kind(&self) -> &'static str {
        "demonstrations"
    }

    fn label(&self) -> &'static str {
        "Figure 5 / Figure 10"
    }

    fn needs(&self, plan: &Plan, _catalog: &Catalog, demonstrations: usize) -> Vec<Need> {
        let scale = scale_like(plan, demonstrations);
        let mut needs = Vec::new();
        for (_, _, _, request) in self.requests(scale) {
            for r in &self.reasoners {
                needs.push(Need {
                    tasks: request.clone(),
                    reasoner: r.clone(),
                });
            }
        }
        needs
    }

    fn render(&self, ctx: &RenderContext<'_>) -> Result<Section> {
        let scale = scale_like(ctx.plan, ctx.demonstrations);
        let requests = self.requests(scale);
        let scaled: Vec<usize> = requests.iter().filter(|r| !r.2).map(|r| r.1).collect();
        let mut headers = vec!["Reasoner (polar avg)".to_owned(), "demographics".to_owned()];
        headers.extend(self.counts.iter().zip(&scaled).map(|(c, s)| {
            if c == s {
                format!("{c} demos")
            } else {
                format!("{c} ({s}) demos")
            }
        }));
        let mut table = Table::new(headers);
        let mut lines: Vec<(String, Vec<f64>)> = Vec::new();
        for name in &self.reasoners {
            let first = &requests[0].3;
            for (i, o) in ctx.results.outputs(first, name).iter().enumerate() {
                for demographics in [false, true] {
                    let mut row = vec![
                        o.label.clone(),
                        if demographics {
                            "first".into()
                        } else {
                            "none".into()
                        },
                    ];
                    let mut line = Vec::new();
                    for (_, _, d, request) in &requests {
                        if *d != demographics {
                            continue;
                        }
                        let outputs = ctx.results.outputs(request, name);
                        let avg = match outputs.get(i) {
                            Some(o) => polar_accuracy(ctx, o)?.1,
                            None => f64::NAN,
                        };
                        row.push(f2(avg));
                        line.push(avg);
                    }
                    table.push(row);
                    // The plot leaves out exact rows (no demonstrations read) and a
                    // "+ demographics" line that repeats the plain one (a reasoner that does
                    // not read demographic statements): the table keeps them.
                    let repeats = demographics && lines.last().is_some_and(|(_, l)| *l == line);
                    if o.exact.is_none() && !repeats {
                        let suffix = if demographics { ", + demographics" } else { "" };
                        lines.push((format!("{}{suffix}", o.label), line));
                    }
                }
            }
        }
        indievalue_metrics::plots::accuracy_lines(
            ctx.plot_stem("figure5")?,
            "Accuracy against the number of demonstrations (polar)",
            "demonstrations per task",
            &scaled,
            &lines,
        )?;
        let mut body = String::new();
        let _ = writeln!(
            body,
            "Polar probes; demonstrations {} (the paper's counts{}), each with and without the \
             person's demographic statements first. The statistical baselines do not read \
             demographic statements, so the plot draws one line for each of them; exact rows are \
             in the table only.\n",
            self.counts
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", "),
            if scaled != self.counts {
                format!(
                    ", scaled to this catalog: {}",
                    scaled
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            } else {
                String::new()
            }
        );
        body.push_str(&ctx.table("figure5", &table)?);
        body.push('\n');
        body.push_str(&ctx.plot_link("figure5", "Figure 5: accuracy against demonstrations"));
        body.push_str(synthetic_note(ctx));
        Ok(Section {
            heading: "Figure 5 / Figure 10: how many demonstrations, and demographics".into(),
            body,
        })
    }
}

/// The demonstration count of `paper_count` on this plan's catalog: the same share the plan's
/// own count was scaled by.
fn scale_like(plan: &Plan, demonstrations: usize) -> impl Fn(usize) -> usize + use<> {
    let requested = plan.evaluation.demonstrations.max(1);
    let ratio = demonstrations as f64 / requested as f64;
    move |count: usize| ((count as f64 * ratio).round() as usize).max(1)
}

/// Table 14: refined against polar demonstrations, both with polar probes.
#[derive(Debug, Clone)]
pub struct DemoFormExperiment {
    /// The reasoners.
    pub reasoners: Vec<String>,
}

impl DemoFormExperiment {
    fn requests(demonstrations: usize) -> [(Granularity, TaskRequest); 2] {
        [Granularity::Refined, Granularity::Polar].map(|g| {
            let mut r = TaskRequest::main(Granularity::Polar, demonstrations);
            r.demo = g;
            (g, r)
        })
    }
}

impl Experiment for DemoFormExperiment {
    fn kind(&self) -> &'static str {
        "demo-form"
    }

    fn label(&self) -> &'static str {
        "Table 14"
    }

    fn needs(&self, _plan: &Plan, _catalog: &Catalog, demonstrations: usize) -> Vec<Need> {
        let mut needs = Vec::new();
        for (_, request) in Self::requests(demonstrations) {
            for r in &self.reasoners {
                needs.push(Need {
                    tasks: request.clone(),
                    reasoner: r.clone(),
                });
            }
        }
        needs
    }

    fn render(&self, ctx: &RenderContext<'_>) -> Result<Section> {
        let mut headers = vec![
            "Reasoner".to_owned(),
            "demonstrations".into(),
            "probe 1".into(),
            "probe 2".into(),
            "probe 3".into(),
            "avg".into(),
        ];
        if ctx.paper {
            headers.push("paper GPT-4o avg".into());
        }
        let mut table = Table::new(headers);
        let requests = Self::requests(ctx.demonstrations);
        for name in &self.reasoners {
            let n = ctx.results.outputs(&requests[0].1, name).len();
            for i in 0..n {
                for (g, request) in &requests {
                    let Some(o) = ctx.results.outputs(request, name).get(i) else {
                        continue;
                    };
                    let (per_setup, avg) = polar_accuracy(ctx, o)?;
                    let mut row = vec![o.label.clone(), g.name().to_owned()];
                    row.extend(per_setup.iter().map(|&v| f2(v)));
                    row.push(f2(avg));
                    if ctx.paper {
                        let theirs = paper::TABLE14.iter().find(|(form, _)| *form == g.name());
                        row.push(theirs.map_or("-".into(), |(_, v)| f2(v[3])));
                    }
                    table.push(row);
                }
            }
        }
        let mut body = String::new();
        let _ = writeln!(
            body,
            "Polar probes; {} demonstrations of the same questions, as refined or as polar \
             statements.\n",
            ctx.demonstrations
        );
        body.push_str(&ctx.table("table14", &table)?);
        body.push_str(synthetic_note(ctx));
        Ok(Section {
            heading: "Table 14: refined or polar demonstrations".into(),
            body,
        })
    }
}

/// Figure 8: demonstrations from one category at a time, accuracy per probe category.
#[derive(Debug, Clone)]
pub struct CategoryDemosExperiment {
    /// The reasoners.
    pub reasoners: Vec<String>,
}

impl Experiment for CategoryDemosExperiment {
    fn kind(&self) -> &'static str {
        "category-demos"
    }

    fn label(&self) -> &'static str {
        "Figure 8"
    }

    fn needs(&self, _plan: &Plan, catalog: &Catalog, demonstrations: usize) -> Vec<Need> {
        let mut needs = Vec::new();
        for c in catalog.categories() {
            let mut request = TaskRequest::main(Granularity::Polar, demonstrations);
            request.demo_category = Some(c);
            for r in &self.reasoners {
                needs.push(Need {
                    tasks: request.clone(),
                    reasoner: r.clone(),
                });
            }
        }
        needs
    }

    fn render(&self, ctx: &RenderContext<'_>) -> Result<Section> {
        let categories = ctx.catalog.categories();
        let names: Vec<String> = categories
            .iter()
            .map(|c| ctx.catalog.category_short_name(*c).to_owned())
            .collect();
        let mut body = String::new();
        let _ = writeln!(
            body,
            "Rows: the one category the demonstrations come from (up to {} of its non-probe \
             questions); columns: the probe category; cells: accuracy (%) on polar probes. \
             Categories in Table 6's order.\n",
            ctx.demonstrations
        );
        for name in &self.reasoners {
            let mut request = TaskRequest::main(Granularity::Polar, ctx.demonstrations);
            request.demo_category = categories.first().copied();
            let n = ctx.results.outputs(&request, name).len();
            for i in 0..n {
                let mut label = String::new();
                let mut grid: Vec<Vec<f64>> = Vec::new();
                for &c in &categories {
                    request.demo_category = Some(c);
                    let Some(o) = ctx.results.outputs(&request, name).get(i) else {
                        continue;
                    };
                    if o.exact.is_some() {
                        break;
                    }
                    label = o.label.clone();
                    let report =
                        AccuracyReport::compute(ctx.catalog, &o.predictions, &exact_free(ctx))?;
                    grid.push(report.category_series(&categories));
                }
                if grid.len() != categories.len() {
                    continue;
                }
                let stem = format!("figure8_{}", indievalue_metrics::plots::file_slug(&label));
                let mut table = Table::new(
                    std::iter::once("demonstrations from \\ probe".to_owned())
                        .chain(names.iter().cloned()),
                );
                for (r, line) in grid.iter().enumerate() {
                    table.push(
                        std::iter::once(names[r].clone())
                            .chain(line.iter().map(|&v| format!("{v:.1}"))),
                    );
                }
                // Numbered columns (the rows' numbers): full names do not fit under a cell.
                let rows: Vec<String> = names
                    .iter()
                    .enumerate()
                    .map(|(i, n)| format!("{n} ({})", i + 1))
                    .collect();
                let columns: Vec<String> = (1..=names.len()).map(|i| i.to_string()).collect();
                indievalue_metrics::plots::heatmap(
                    ctx.plot_stem(&stem)?,
                    &format!("{label}: demonstrations from one category (rows) by probe category"),
                    &rows,
                    &columns,
                    &grid,
                    (0.0, 100.0),
                )?;
                let _ = writeln!(body, "**{label}**\n");
                body.push_str(&ctx.table(&stem, &table)?);
                body.push('\n');
                body.push_str(&ctx.plot_link(&stem, &format!("Figure 8: {label}")));
                body.push('\n');
            }
        }
        body.push_str(synthetic_note(ctx));
        Ok(Section {
            heading: "Figure 8: demonstrations from one category".into(),
            body,
        })
    }
}

/// Table 5: what a reasoner reads: demographic statements only, value statements only, both.
#[derive(Debug, Clone)]
pub struct DemographicsExperiment {
    /// The reasoners.
    pub reasoners: Vec<String>,
}

impl DemographicsExperiment {
    fn requests(demonstrations: usize) -> [(&'static str, TaskRequest); 3] {
        let main = TaskRequest::main(Granularity::Polar, demonstrations);
        [
            (
                "demographics only",
                TaskRequest {
                    demonstrations: 0,
                    demographics: true,
                    ..main.clone()
                },
            ),
            ("statements only", main.clone()),
            (
                "both",
                TaskRequest {
                    demographics: true,
                    ..main
                },
            ),
        ]
    }
}

impl Experiment for DemographicsExperiment {
    fn kind(&self) -> &'static str {
        "demographics"
    }

    fn label(&self) -> &'static str {
        "Table 5"
    }

    fn needs(&self, _plan: &Plan, _catalog: &Catalog, demonstrations: usize) -> Vec<Need> {
        let mut needs = Vec::new();
        for (_, request) in Self::requests(demonstrations) {
            for r in &self.reasoners {
                needs.push(Need {
                    tasks: request.clone(),
                    reasoner: r.clone(),
                });
            }
        }
        needs
    }

    fn render(&self, ctx: &RenderContext<'_>) -> Result<Section> {
        let requests = Self::requests(ctx.demonstrations);
        let mut table = Table::new([
            "Reasoner (polar avg)",
            "demographics only",
            "statements only",
            "both",
        ]);
        for name in &self.reasoners {
            let n = ctx.results.outputs(&requests[1].1, name).len();
            for i in 0..n {
                let mut row = Vec::new();
                for (_, request) in &requests {
                    let Some(o) = ctx.results.outputs(request, name).get(i) else {
                        continue;
                    };
                    if row.is_empty() {
                        row.push(o.label.clone());
                    }
                    row.push(f2(polar_accuracy(ctx, o)?.1));
                }
                table.push(row);
            }
        }
        let mut body = String::new();
        let _ = writeln!(
            body,
            "Polar probes, shown the person's demographic statements only, {} value statements \
             only, or both. The paper's Table 5 trains reasoners on these mixes; here they are \
             probing conditions, so its figures are not set beside ours. The statistical \
             baselines match people on value statements: shown demographics only they have \
             nothing to match on.\n",
            ctx.demonstrations
        );
        body.push_str(&ctx.table("table5", &table)?);
        body.push_str(synthetic_note(ctx));
        Ok(Section {
            heading: "Table 5: demographics only, statements only, both".into(),
            body,
        })
    }
}

/// Figures 4, 9, 11-21: a reasoner's accuracy per group within each of the 16 dimensions, and
/// its relative change over another reasoner's.
#[derive(Debug, Clone)]
pub struct GroupsExperiment {
    /// The output shown (a `[[reasoner]]` name or a baseline: `global`, `top1`, `topK`, and
    /// with the learned reasoners `weighted`, `logistic`, `latent`, `blend`).
    pub reasoner: String,
    /// The output it is compared with.
    pub over: String,
}

/// The plan reasoner an output name belongs to.
pub(crate) fn owner_of(plan: &Plan, output: &str) -> Option<String> {
    if plan.reasoner(output).is_some() {
        return Some(output.to_owned());
    }
    let k = plan.evaluation.top_k;
    let learned =
        plan.evaluation.learned && matches!(output, "weighted" | "logistic" | "latent" | "blend");
    (learned || output == "global" || output == "top1" || output == format!("top{k}"))
        .then(|| BASELINES.to_owned())
}

impl Experiment for GroupsExperiment {
    fn kind(&self) -> &'static str {
        "groups"
    }

    fn label(&self) -> &'static str {
        "Figures 4, 9, 11-21"
    }

    fn needs(&self, plan: &Plan, _catalog: &Catalog, demonstrations: usize) -> Vec<Need> {
        [&self.reasoner, &self.over]
            .into_iter()
            .filter_map(|o| owner_of(plan, o))
            .map(|reasoner| Need {
                tasks: TaskRequest::main(Granularity::Polar, demonstrations),
                reasoner,
            })
            .collect()
    }

    fn render(&self, ctx: &RenderContext<'_>) -> Result<Section> {
        let request = TaskRequest::main(Granularity::Polar, ctx.demonstrations);
        let find = |name: &str| -> Result<&Output> {
            let owner = owner_of(ctx.plan, name).unwrap_or_default();
            ctx.results
                .outputs(&request, &owner)
                .iter()
                .find(|o| o.name == name)
                .ok_or_else(|| Error::Input(format!("no predictions of {name:?}")))
        };
        let (a, b) = (find(&self.reasoner)?, find(&self.over)?);
        // Both on the people both ran on.
        let shared: std::collections::BTreeSet<i64> = a
            .predictions
            .iter()
            .map(|p| p.person)
            .filter(|id| b.predictions.iter().any(|q| q.person == *id))
            .collect();
        let only = |o: &Output| -> Vec<_> {
            o.predictions
                .iter()
                .filter(|p| shared.contains(&p.person))
                .cloned()
                .collect()
        };
        let dims = Dimension::of_survey(ctx.catalog);
        let index = |o: &Output| -> Result<InequityIndex> {
            let report = AccuracyReport::compute(ctx.catalog, &only(o), &exact_free(ctx))?;
            Ok(InequityIndex::compute(
                ctx.catalog,
                &ctx.data.people,
                &report.per_person,
                &dims,
                1,
            )?)
        };
        let (ia, ib) = (index(a)?, index(b)?);
        let plots = indievalue_metrics::plots::dimension_groups(
            &ctx.plot_stem("groups")?,
            &a.label,
            &b.label,
            &ia,
            &ib,
        )?;
        let mut table = Table::new([
            "dimension",
            "group",
            "people",
            &format!("{} (%)", a.label),
            &format!("{} (%)", b.label),
            "relative change (%)",
        ]);
        for (ra, rb) in ia.rows.iter().zip(&ib.rows) {
            for (ga, gb) in ra.groups.iter().zip(&rb.groups) {
                let change = if gb.accuracy > 0.0 {
                    100.0 * (ga.accuracy - gb.accuracy) / gb.accuracy
                } else {
                    f64::NAN
                };
                table.push([
                    ra.dimension.clone(),
                    ga.group.clone(),
                    ga.people.to_string(),
                    f2(ga.accuracy),
                    f2(gb.accuracy),
                    f2(change),
                ]);
            }
        }
        let mut body = String::new();
        let _ = writeln!(
            body,
            "{} against {} on the {} people both ran on (polar probes): per dimension, each \
             group's accuracy (Figure 9's layout) and the relative change, 100 x (a - b) / b \
             (Figure 4's, Figures 11-21's), groups in the dimension's option order. One plot \
             per dimension and kind in `plots/groups/`.\n",
            a.label,
            b.label,
            shared.len()
        );
        body.push_str(&ctx.table("groups", &table)?);
        body.push('\n');
        for (dimension, stem) in &plots {
            let _ = writeln!(
                body,
                "- {dimension}: [accuracy](plots/groups/{stem}-accuracy.png), [relative change](plots/groups/{stem}-change.png)"
            );
        }
        body.push_str(synthetic_note(ctx));
        Ok(Section {
            heading: "Figures 4, 9, 11-21: demographic groups".into(),
            body,
        })
    }
}
