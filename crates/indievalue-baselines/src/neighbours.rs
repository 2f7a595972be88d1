//! Similarity-weighted neighbours: every training person votes on every probe question they
//! answered with weight `exp(beta x (similarity - best similarity))`, and resemble top-k's vote,
//! over the same ranking as [`ResembleIndex`].

use crate::layout::{ProbeBlocks, argmax};
use crate::resemble::ResembleIndex;
use indievalue_catalog::NO_ANSWER;

/// Weights below `exp(-WINDOW_NATS)` of the best neighbour's are left out: they cannot move a
/// vote that the best neighbours have made.
const WINDOW_NATS: f64 = 12.0;

/// The training pool's answers to a group's probe questions, in the index's rank order, with
/// the pool's answer frequencies (the fallback when no neighbour answered a question).
#[derive(Debug, Clone)]
pub(crate) struct PoolVotes {
    /// `pool x blocks`, rank order, [`NO_ANSWER`] where missing.
    answers: Vec<u8>,
    blocks: ProbeBlocks,
    /// The pool's answer frequencies per block (uniform where nobody answered).
    frequencies: Vec<f32>,
}

/// What one query's neighbours said.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct QueryVotes {
    /// Vote shares, one `width`-long vector per weighting of the request, blocks normalised.
    pub weighted: Vec<Vec<f32>>,
    /// Resemble top-k's choice per block (empty when k = 0).
    pub top_k: Vec<u8>,
}

/// What to compute for a query.
#[derive(Debug, Clone, Copy)]
pub(crate) struct VoteRequest<'a> {
    /// The weightings (beta).
    pub betas: &'a [f64],
    /// k of the top-k vote (0: none).
    pub top_k: usize,
    /// At most this many weighted voters (whole similarity levels: the last level is never cut).
    pub max_neighbours: usize,
}

/// Rank positions of the best similarity levels, in rank order (similarity descending, then
/// position): whole levels while fewer than `max_neighbours` are taken and the level is within
/// the weighting window of the best; `skip` left out. The prefix of the full ranking that
/// [`PoolVotes::query`] reads for the weighted vote, without sorting the whole pool.
fn best_levels(
    similarities: &[u16],
    skip: Option<usize>,
    max_neighbours: usize,
    min_beta: f64,
) -> Vec<usize> {
    let kept = |p: usize| Some(p) != skip;
    let Some(best) = (0..similarities.len())
        .filter(|&p| kept(p))
        .map(|p| similarities[p])
        .max()
    else {
        return Vec::new();
    };
    let mut counts = vec![0u32; usize::from(best) + 1];
    for (p, &s) in similarities.iter().enumerate() {
        if kept(p) {
            counts[usize::from(s)] += 1;
        }
    }
    let mut threshold = best;
    let mut taken = 0usize;
    for level in (0..=best).rev() {
        if taken >= max_neighbours || min_beta * f64::from(best - level) > WINDOW_NATS {
            break;
        }
        threshold = level;
        taken += counts[usize::from(level)] as usize;
    }
    let mut order: Vec<usize> = (0..similarities.len())
        .filter(|&p| kept(p) && similarities[p] >= threshold)
        .collect();
    order.sort_by_key(|&p| (std::cmp::Reverse(similarities[p]), p));
    order
}

impl PoolVotes {
    /// Collects the pool's answers to the probe questions (`probe_targets(row)` gives a row's
    /// answers in block order), in the rank order of `index`.
    pub fn new(
        index: &ResembleIndex,
        blocks: ProbeBlocks,
        probe_targets: impl Fn(usize) -> Vec<u8>,
    ) -> PoolVotes {
        let b = blocks.len();
        let mut answers = Vec::with_capacity(index.len() * b);
        let mut counts = vec![0u64; blocks.width()];
        for &row in index.rows() {
            let targets = probe_targets(row);
            for (j, &t) in targets.iter().enumerate() {
                if t != NO_ANSWER {
                    let r = blocks.range(j);
                    if usize::from(t) < r.len() {
                        counts[r.start + usize::from(t)] += 1;
                    }
                }
            }
            answers.extend(targets);
        }
        let mut frequencies = vec![0f32; blocks.width()];
        for j in 0..b {
            let r = blocks.range(j);
            let total: u64 = counts[r.clone()].iter().sum();
            for i in r.clone() {
                frequencies[i] = if total == 0 {
                    1.0 / r.len() as f32
                } else {
                    counts[i] as f32 / total as f32
                };
            }
        }
        PoolVotes {
            answers,
            blocks,
            frequencies,
        }
    }

    /// The probe blocks.
    pub fn blocks(&self) -> &ProbeBlocks {
        &self.blocks
    }

    /// The votes of the neighbours of one query. `similarities` are the pool's similarities to
    /// the query in rank order ([`ResembleIndex::similarities`]); `skip` is a rank position left
    /// out (the query itself, in cross-validation).
    pub fn query(
        &self,
        similarities: &[u16],
        skip: Option<usize>,
        request: &VoteRequest<'_>,
    ) -> QueryVotes {
        let (b, width) = (self.blocks.len(), self.blocks.width());
        let min_beta = request.betas.iter().copied().fold(f64::INFINITY, f64::min);
        // Top-k walks the whole ranking; the weighted vote alone needs only its best levels.
        let order: Vec<usize> = if request.top_k > 0 {
            ResembleIndex::ranking(similarities)
                .iter()
                .map(|&p| p as usize)
                .filter(|&p| Some(p) != skip)
                .collect()
        } else {
            best_levels(similarities, skip, request.max_neighbours, min_beta)
        };
        let mut weighted = vec![vec![0f64; width]; request.betas.len()];
        let mut level_counts = vec![0u32; width];
        let mut level: Option<u16> = None;
        let mut best: Option<u16> = None;
        let mut taken = 0usize;
        let mut weighting_open = !request.betas.is_empty();
        // Top-k state per block.
        let k = request.top_k;
        let mut tk_votes = vec![0u32; if k > 0 { width } else { 0 }];
        let mut tk_first = vec![u32::MAX; if k > 0 { width } else { 0 }];
        let mut tk_voters = vec![0u32; if k > 0 { b } else { 0 }];
        let mut tk_open = if k > 0 { b } else { 0 };

        let flush = |level: u16, best: u16, counts: &mut [u32], weighted: &mut [Vec<f64>]| {
            for (beta, votes) in request.betas.iter().zip(weighted.iter_mut()) {
                let w = (beta * (f64::from(level) - f64::from(best))).exp();
                for (v, &c) in votes.iter_mut().zip(counts.iter()) {
                    *v += w * f64::from(c);
                }
            }
            counts.iter_mut().for_each(|c| *c = 0);
        };

        for pos in order {
            if !weighting_open && tk_open == 0 {
                break;
            }
            let s = similarities[pos];
            let answers = &self.answers[pos * b..(pos + 1) * b];
            if weighting_open {
                let top = *best.get_or_insert(s);
                if level != Some(s) {
                    if let Some(l) = level {
                        flush(l, top, &mut level_counts, &mut weighted);
                    }
                    let far = min_beta * f64::from(top - s) > WINDOW_NATS;
                    if taken >= request.max_neighbours || far {
                        weighting_open = false;
                        level = None;
                    } else {
                        level = Some(s);
                    }
                }
                if weighting_open {
                    taken += 1;
                    for (j, &a) in answers.iter().enumerate() {
                        if a != NO_ANSWER {
                            level_counts[self.blocks.range(j).start + usize::from(a)] += 1;
                        }
                    }
                }
            }
            if tk_open > 0 {
                for (j, &a) in answers.iter().enumerate() {
                    if a != NO_ANSWER && (tk_voters[j] as usize) < k {
                        let at = self.blocks.range(j).start + usize::from(a);
                        tk_votes[at] += 1;
                        if tk_first[at] == u32::MAX {
                            tk_first[at] = tk_voters[j];
                        }
                        tk_voters[j] += 1;
                        if tk_voters[j] as usize == k {
                            tk_open -= 1;
                        }
                    }
                }
            }
        }
        if let (Some(l), Some(top)) = (level, best) {
            flush(l, top, &mut level_counts, &mut weighted);
        }
        let weighted = weighted
            .into_iter()
            .map(|votes| self.shares(&votes))
            .collect();
        let top_k = if k > 0 {
            (0..b)
                .map(|j| {
                    let r = self.blocks.range(j);
                    if tk_voters[j] == 0 {
                        return argmax(&self.frequencies[r]);
                    }
                    // Most votes; a tie goes to the statement voted first.
                    let mut best = 0;
                    for s in 1..r.len() {
                        let (v, bv) = (tk_votes[r.start + s], tk_votes[r.start + best]);
                        if v > bv || (v == bv && tk_first[r.start + s] < tk_first[r.start + best]) {
                            best = s;
                        }
                    }
                    best as u8
                })
                .collect()
        } else {
            Vec::new()
        };
        QueryVotes { weighted, top_k }
    }

    /// Votes normalised per block; a block nobody voted on gets the pool's frequencies.
    fn shares(&self, votes: &[f64]) -> Vec<f32> {
        let mut out = vec![0f32; votes.len()];
        for j in 0..self.blocks.len() {
            let r = self.blocks.range(j);
            let total: f64 = votes[r.clone()].iter().sum();
            for i in r {
                out[i] = if total > 0.0 {
                    (votes[i] / total) as f32
                } else {
                    self.frequencies[i]
                };
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout::{ProbeBlocks, task_groups};
    use indievalue_catalog::{Catalog, Granularity, Respondents};
    use indievalue_sampling::{AnswerMatrix, DemoMode, Demonstration, Probe, ProbeTask};
    use indievalue_testdata::fixtures_dir;

    /// The hand-worked pool of `tests/baselines.rs`: similarities to the demonstrations
    /// (T1 = 0, T2 = 1) are 2, 1, 1, 2 for people 11-14; their polar T3 answers 0, 1, 1, none.
    #[test]
    fn weighted_shares_and_top_k_by_hand() {
        let catalog = Catalog::load(fixtures_dir().join("tiny-meta")).unwrap();
        let people = Respondents::from_raw(
            &catalog,
            vec![11, 12, 13, 14],
            vec![vec![2, 1, 3, 1], vec![7, -1, 8, 9], vec![0, 2, 1, -2]],
            vec![vec![36; 4], vec![36; 4], vec![1; 4]],
        )
        .unwrap();
        let answers = AnswerMatrix::new(&people);
        let demo = |q: &str, s| Demonstration {
            question: q.into(),
            statement: s,
        };
        let task = ProbeTask {
            person: 99,
            setup: 0,
            probe_granularity: Granularity::Polar,
            demo_granularity: Granularity::Polar,
            demo_mode: DemoMode::Fixed(2),
            demographics: vec![],
            demonstrations: vec![demo("T1", 0), demo("T2", 1)],
            probes: vec![Probe {
                question: "T3".into(),
                options: 2,
                gold: 1,
            }],
        };
        let (groups, _) = task_groups(&catalog, &[task]).unwrap();
        let group = &groups[0];
        assert_eq!(
            (group.demo_questions.clone(), group.probe_questions.clone()),
            (vec![0, 1], vec![2])
        );
        let index = ResembleIndex::build(
            &catalog,
            &people,
            &answers,
            &[0, 1, 2, 3],
            Granularity::Polar,
        )
        .unwrap();
        let blocks = ProbeBlocks::new(&catalog, group);
        let votes = PoolVotes::new(&index, blocks, |row| group.targets(&answers, row));
        let mut sims = Vec::new();
        index.similarities(&index.mask(&[(0, 0), (1, 1)]).unwrap(), &mut sims);
        let query = |top_k, skip| {
            let request = VoteRequest {
                betas: &[0.5, 1.0],
                top_k,
                max_neighbours: 10,
            };
            votes.query(&sims, skip, &request)
        };
        // Weights: similarity 2 -> 1, similarity 1 -> exp(-beta). T3 votes: 11 (weight 1) for 0,
        // 12 and 13 (exp(-beta) each) for 1; 14 never votes.
        let share = |beta: f64| {
            let w = (-beta).exp();
            (1.0 / (1.0 + 2.0 * w), 2.0 * w / (1.0 + 2.0 * w))
        };
        let v = query(3, None);
        for (got, beta) in v.weighted.iter().zip([0.5, 1.0]) {
            let (a, b) = share(beta);
            assert!((got[0] as f64 - a).abs() < 1e-6 && (got[1] as f64 - b).abs() < 1e-6);
        }
        assert_eq!(argmax(&v.weighted[0]), 1);
        assert_eq!(argmax(&v.weighted[1]), 0);
        // Top-3: voters 11 (0), 12 (1), 13 (1) -> 1; top-2: a tie goes to the first voter, 0.
        assert_eq!(v.top_k, vec![1]);
        assert_eq!(query(2, None).top_k, vec![0]);
        // Leaving out person 11 (rank position 0): only 1s remain.
        let without = query(2, Some(0));
        assert_eq!(without.top_k, vec![1]);
        assert_eq!(without.weighted[0], vec![0.0, 1.0]);
        // Without top-k only the best levels are read: the same shares.
        assert_eq!(query(0, None).weighted, v.weighted);
        assert_eq!(query(0, Some(0)).weighted, without.weighted);
    }
}
