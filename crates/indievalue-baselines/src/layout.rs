//! What the evaluation tasks present, read from the tasks themselves, and the same presentation
//! simulated on the training pool.
//!
//! The learned reasoners must be trained on inputs that look like the evaluation tasks' inputs:
//! the same probe questions, demonstrations drawn from the same questions, in the same number and
//! form. Everything here is read from the tasks' structure (question ids, demonstration mode,
//! granularities), never from an evaluation person's answers.

use crate::global::question_index;
use crate::{Error, Result};
use indievalue_catalog::rng::{Rng, label};
use indievalue_catalog::{Catalog, Granularity, NO_ANSWER};
use indievalue_sampling::{AnswerMatrix, DemoMode, Demonstrations, ProbeTask};

/// The tasks of one setup and demonstration mode: what a reasoner is shown and asked.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct TaskGroup {
    /// The probe setup.
    pub setup: usize,
    /// How the demonstrations were drawn.
    pub demo_mode: DemoMode,
    /// Statement form of the demonstrations.
    pub demo_granularity: Granularity,
    /// Statement form of the probes.
    pub probe_granularity: Granularity,
    /// Probe question positions (ascending): every question some task of the group probes.
    pub probe_questions: Vec<usize>,
    /// Question positions demonstrations are drawn from (ascending): every question some task
    /// of the group shows.
    pub demo_questions: Vec<usize>,
}

/// The groups of `tasks` (by setup and demonstration mode, in order of first appearance) and the
/// group of every task. All tasks must share one demonstration and one probe granularity.
pub(crate) fn task_groups(
    catalog: &Catalog,
    tasks: &[ProbeTask],
) -> Result<(Vec<TaskGroup>, Vec<usize>)> {
    let first = tasks.first().ok_or(Error::NoTasks)?;
    let (demo_g, probe_g) = (first.demo_granularity, first.probe_granularity);
    let nq = catalog.questions().len();
    // Per group: probe and demonstration question flags.
    let mut groups: Vec<(TaskGroup, Vec<bool>, Vec<bool>)> = Vec::new();
    let mut of_task = Vec::with_capacity(tasks.len());
    for task in tasks {
        if task.demo_granularity != demo_g {
            return Err(Error::Granularity {
                person: task.person,
                expected: demo_g,
                found: task.demo_granularity,
            });
        }
        if task.probe_granularity != probe_g {
            return Err(Error::Granularity {
                person: task.person,
                expected: probe_g,
                found: task.probe_granularity,
            });
        }
        let at = match groups
            .iter()
            .position(|(g, _, _)| g.setup == task.setup && g.demo_mode == task.demo_mode)
        {
            Some(at) => at,
            None => {
                let group = TaskGroup {
                    setup: task.setup,
                    demo_mode: task.demo_mode,
                    demo_granularity: demo_g,
                    probe_granularity: probe_g,
                    probe_questions: Vec::new(),
                    demo_questions: Vec::new(),
                };
                groups.push((group, vec![false; nq], vec![false; nq]));
                groups.len() - 1
            }
        };
        let (_, probed, shown) = &mut groups[at];
        for probe in &task.probes {
            probed[question_index(catalog, task.person, &probe.question)?] = true;
        }
        for demo in &task.demonstrations {
            shown[question_index(catalog, task.person, &demo.question)?] = true;
        }
        of_task.push(at);
    }
    let groups = groups
        .into_iter()
        .map(|(mut g, probed, shown)| {
            g.probe_questions = (0..nq).filter(|&q| probed[q]).collect();
            g.demo_questions = (0..nq).filter(|&q| shown[q] && !probed[q]).collect();
            g
        })
        .collect();
    Ok((groups, of_task))
}

impl TaskGroup {
    /// Demonstrations for training-pool person `row` presented as the group's tasks present
    /// theirs: drawn by [`Demonstrations::sample`] with the group's mode, from the group's
    /// demonstration questions, from the stream of (seed, person id, setup, replicate).
    pub fn simulate(
        &self,
        answers: &AnswerMatrix,
        row: usize,
        person: i64,
        seed: u64,
        replicate: usize,
        excluded: &[bool],
    ) -> Vec<(u16, u8)> {
        let mut rng = Rng::derive(
            seed,
            &[
                label("learned-pool-demonstrations"),
                person as u64,
                self.setup as u64,
                replicate as u64,
            ],
        );
        Demonstrations::sample(
            answers,
            row,
            excluded,
            self.demo_mode,
            self.demo_granularity,
            &mut rng,
        )
        .items
    }

    /// The questions demonstrations are not drawn from (the complement of `demo_questions`), as
    /// [`Demonstrations::sample`] wants them.
    pub fn excluded(&self, questions: usize) -> Vec<bool> {
        let mut excluded = vec![true; questions];
        for &q in &self.demo_questions {
            excluded[q] = false;
        }
        excluded
    }

    /// The answers of `row` to the probe questions at the probe granularity ([`NO_ANSWER`]
    /// where missing), in `probe_questions` order.
    pub fn targets(&self, answers: &AnswerMatrix, row: usize) -> Vec<u8> {
        let values = answers.row(row, self.probe_granularity);
        self.probe_questions.iter().map(|&q| values[q]).collect()
    }

    /// True when `targets` holds at least one answer.
    pub fn any_target(targets: &[u8]) -> bool {
        targets.iter().any(|&t| t != NO_ANSWER)
    }
}

/// The one-hot encoding of demonstrations: one feature per (demonstration question, statement),
/// then a constant feature (the intercept).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct DemoEncoding {
    /// First feature of every question position (`None` for questions never shown).
    offsets: Vec<Option<usize>>,
    /// Statements of every question position at the demonstrations' granularity.
    statements: Vec<usize>,
    /// One-hot features, without the intercept.
    features: usize,
}

impl DemoEncoding {
    /// The encoding of a group's demonstration questions.
    pub fn new(catalog: &Catalog, group: &TaskGroup) -> DemoEncoding {
        let nq = catalog.questions().len();
        let statements: Vec<usize> = catalog
            .questions()
            .iter()
            .map(|q| q.statements(group.demo_granularity).len())
            .collect();
        let mut offsets = vec![None; nq];
        let mut features = 0;
        for &q in &group.demo_questions {
            offsets[q] = Some(features);
            features += statements[q];
        }
        DemoEncoding {
            offsets,
            statements,
            features,
        }
    }

    /// One-hot features (the intercept not counted).
    pub fn features(&self) -> usize {
        self.features
    }

    /// Columns of a row: one-hot features and the intercept.
    pub fn columns(&self) -> usize {
        self.features + 1
    }

    /// Writes the row of `demos` into `out` (`columns()` long, zeroed by the caller): ones at the
    /// demonstrations' features and at the intercept. A demonstration of a question the encoding
    /// does not know, or of a statement out of range, is left out.
    pub fn encode(&self, demos: &[(u16, u8)], out: &mut [f32]) {
        for &(q, s) in demos {
            let (q, s) = (usize::from(q), usize::from(s));
            if let Some(Some(offset)) = self.offsets.get(q)
                && s < self.statements[q]
            {
                out[offset + s] = 1.0;
            }
        }
        out[self.features] = 1.0;
    }
}

/// The probe questions of a group as blocks of a probability vector: one block of options per
/// question.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ProbeBlocks {
    /// First entry of every block (one more: the total).
    offsets: Vec<usize>,
}

impl ProbeBlocks {
    /// The blocks of a group's probe questions at its probe granularity.
    pub fn new(catalog: &Catalog, group: &TaskGroup) -> ProbeBlocks {
        let mut offsets = Vec::with_capacity(group.probe_questions.len() + 1);
        let mut total = 0;
        for &q in &group.probe_questions {
            offsets.push(total);
            total += catalog.questions()[q]
                .statements(group.probe_granularity)
                .len();
        }
        offsets.push(total);
        ProbeBlocks { offsets }
    }

    /// Blocks of the given sizes.
    #[cfg(test)]
    pub fn from_sizes(sizes: &[usize]) -> ProbeBlocks {
        let mut offsets = vec![0];
        for s in sizes {
            offsets.push(offsets[offsets.len() - 1] + s);
        }
        ProbeBlocks { offsets }
    }

    /// Number of blocks (probe questions).
    pub fn len(&self) -> usize {
        self.offsets.len() - 1
    }

    /// Entries of a whole vector.
    pub fn width(&self) -> usize {
        self.offsets[self.offsets.len() - 1]
    }

    /// The entries of block `j`.
    #[inline]
    pub fn range(&self, j: usize) -> std::ops::Range<usize> {
        self.offsets[j]..self.offsets[j + 1]
    }
}

/// The most probable option of a block: the first of the largest (ties to the smaller index).
#[inline]
pub(crate) fn argmax(p: &[f32]) -> u8 {
    let mut best = 0;
    for (i, &v) in p.iter().enumerate() {
        if v > p[best] {
            best = i;
        }
    }
    best as u8
}
