//! The sampling protocol: Table 13, the evaluation-set rules, demonstrations, training sets and
//! byte-for-byte reproducible task files.

use indievalue_catalog::{Catalog, Granularity, Respondents, meta_dir_from_env};
use indievalue_sampling::{
    AnswerMatrix, DemoMode, DemoSpec, EvalCriteria, GroupOf, ProbeSetup, ProbeTask, TASK_FORMAT,
    TRAINING_FORMAT, TaskFile, TaskFileHeader, TaskSpec, TrainingRecipe, build_probe_tasks,
    build_training_set, select_evaluation_set, write_id_file, write_training_set,
};
use indievalue_synth::{SynthConfig, SyntheticModel};
use indievalue_testdata::mini_catalog_dir;
use std::collections::{BTreeMap, HashSet};

fn synthetic(catalog: &Catalog, people: usize, seed: u64) -> Respondents {
    let model = SyntheticModel::new(
        catalog,
        &SynthConfig {
            people,
            seed,
            ..Default::default()
        },
    )
    .unwrap();
    model.respondents(catalog).unwrap()
}

#[test]
fn the_three_setups_equal_table_13() {
    let meta =
        meta_dir_from_env().expect("INDIEVALUE_META_DIR must point at the authors' metadata");
    let catalog = Catalog::load(meta).unwrap();
    let table_13: [[u32; 39]; 3] = [
        [
            1, 2, 3, 46, 47, 48, 57, 58, 59, 106, 107, 108, 112, 113, 114, 121, 122, 123, 131, 132,
            133, 152, 153, 154, 158, 159, 160, 164, 165, 166, 176, 177, 178, 199, 200, 201, 235,
            236, 237,
        ],
        [
            4, 5, 6, 49, 50, 51, 60, 61, 62, 109, 110, 111, 115, 116, 117, 124, 125, 126, 134, 135,
            136, 155, 156, 157, 161, 162, 163, 167, 168, 169, 179, 180, 181, 202, 203, 204, 238,
            239, 240,
        ],
        [
            7, 8, 9, 52, 53, 54, 63, 64, 65, 106, 107, 108, 118, 119, 120, 127, 128, 129, 137, 138,
            139, 152, 153, 154, 158, 159, 160, 170, 171, 172, 182, 183, 184, 205, 206, 207, 241,
            242, 243,
        ],
    ];
    let setups = ProbeSetup::of_survey(&catalog);
    for (setup, expected) in setups.iter().zip(table_13) {
        let expected: Vec<String> = expected.iter().map(|n| format!("Q{n}")).collect();
        assert_eq!(
            setup.question_ids(&catalog),
            expected,
            "setup {}",
            setup.index()
        );
    }
    let all: HashSet<usize> = setups.iter().flat_map(|s| s.questions().to_vec()).collect();
    assert_eq!(all.len(), 108);
    let shared: Vec<usize> = setups[0]
        .questions()
        .iter()
        .copied()
        .filter(|q| setups[2].contains(*q))
        .collect();
    assert_eq!(shared.len(), 9);
}

#[test]
fn evaluation_set_follows_every_rule() {
    let catalog = Catalog::load(mini_catalog_dir()).unwrap();
    let people = synthetic(&catalog, 14_000, 5);
    let answers = AnswerMatrix::new(&people);
    let setups = ProbeSetup::of_survey(&catalog);
    let criteria = EvalCriteria::scaled(&catalog);
    let set = select_evaluation_set(&catalog, &people, &answers, &setups, &criteria, 9).unwrap();
    assert_eq!(set.rows.len(), criteria.people);
    let religion = catalog.demographic_index("Q289").unwrap();
    let of = GroupOf::balance(&catalog, &people).unwrap();
    let mut per_religion: BTreeMap<(String, i32), usize> = BTreeMap::new();
    for &r in &set.rows {
        for s in &setups {
            for &q in s.questions() {
                assert!(answers.answer(r, q, Granularity::Polar).is_some());
            }
        }
        assert!(answers.valid_count(r) >= criteria.min_valid_answers);
        let continent = of.name(r).unwrap();
        if continent != "Oceania" {
            assert!(people.valid_demographics(r) >= criteria.min_valid_demographics);
            let code = people.demographic(religion).raw[r];
            if criteria.capped_religion_codes.contains(&code) {
                *per_religion
                    .entry((continent.to_owned(), code))
                    .or_default() += 1;
            }
        }
    }
    assert!(per_religion.values().all(|&n| n <= criteria.religion_cap));
    // Equal shares, water-filled: every continent has either all its candidates or within one of
    // the largest share; Oceania (exempt from the demographic and religion rules) counts all its
    // eligible people as candidates.
    assert_eq!(set.per_group.len(), 6);
    let most = *set.per_group.values().max().unwrap();
    for (continent, &n) in &set.per_group {
        let candidates = set.candidates_per_group[continent];
        assert!(candidates <= set.eligible_per_group[continent]);
        if continent == "Oceania" {
            assert_eq!(candidates, set.eligible_per_group[continent]);
        }
        let all_in = n == candidates;
        assert!(n + 1 >= most || all_in, "{continent}: {n} vs {most}");
    }
    // Held out from training.
    let pool = set.training_rows(people.len());
    assert_eq!(pool.len() + set.rows.len(), people.len());
    let held: HashSet<usize> = set.rows.iter().copied().collect();
    assert!(pool.iter().all(|r| !held.contains(r)));
    // Same seed, same set; another seed, another set.
    let again = select_evaluation_set(&catalog, &people, &answers, &setups, &criteria, 9).unwrap();
    assert_eq!(again, set);
    let other = select_evaluation_set(&catalog, &people, &answers, &setups, &criteria, 10).unwrap();
    assert_ne!(other.ids, set.ids);
}

#[test]
fn demonstrations_avoid_probes_and_depend_only_on_seed_person_and_setup() {
    let catalog = Catalog::load(mini_catalog_dir()).unwrap();
    let people = synthetic(&catalog, 200, 1);
    let answers = AnswerMatrix::new(&people);
    let setups = ProbeSetup::of_survey(&catalog);
    let spec = DemoSpec {
        mode: DemoMode::Mixed { min: 10, max: 40 },
        granularity: Granularity::Refined,
        demographics: true,
    };
    let rows: Vec<usize> = (0..200).collect();
    let tasks = build_probe_tasks(
        &catalog,
        &people,
        &answers,
        &rows,
        &TaskSpec {
            setups: &setups,
            demos: spec,
            probe_granularity: Granularity::Polar,
            seed: 4,
        },
    );
    assert_eq!(tasks.len(), 600);
    for task in &tasks {
        let probes: HashSet<String> = setups[task.setup]
            .question_ids(&catalog)
            .into_iter()
            .collect();
        let demo_ids: HashSet<String> = task
            .demonstrations
            .iter()
            .map(|d| d.question.clone())
            .collect();
        assert_eq!(
            demo_ids.len(),
            task.demonstrations.len(),
            "no question twice"
        );
        assert!(demo_ids.is_disjoint(&probes));
        assert!(task.demonstrations.len() <= 40);
        assert!(!task.demographics.is_empty());
        let row = people
            .ids()
            .iter()
            .position(|&id| id == task.person)
            .unwrap();
        for d in &task.demonstrations {
            let q = catalog.question_index(&d.question).unwrap();
            assert_eq!(
                answers.answer(row, q, Granularity::Refined),
                Some(d.statement)
            );
        }
        for p in &task.probes {
            let q = catalog.question_index(&p.question).unwrap();
            assert_eq!(answers.answer(row, q, Granularity::Polar), Some(p.gold));
        }
    }
    // Person 7 alone gets exactly the same tasks as within everybody.
    let alone = build_probe_tasks(
        &catalog,
        &people,
        &answers,
        &[7],
        &TaskSpec {
            setups: &setups,
            demos: spec,
            probe_granularity: Granularity::Polar,
            seed: 4,
        },
    );
    let within: Vec<&ProbeTask> = tasks
        .iter()
        .filter(|t| t.person == people.ids()[7])
        .collect();
    assert_eq!(alone.iter().collect::<Vec<_>>(), within);
}

#[test]
fn task_files_are_byte_for_byte_reproducible() {
    let catalog = Catalog::load(mini_catalog_dir()).unwrap();
    let people = synthetic(&catalog, 300, 2);
    let answers = AnswerMatrix::new(&people);
    let setups = ProbeSetup::of_survey(&catalog);
    let spec = DemoSpec {
        mode: DemoMode::Fixed(30),
        granularity: Granularity::Polar,
        demographics: false,
    };
    let write = |seed: u64, dir: &std::path::Path| {
        let rows: Vec<usize> = (0..300).step_by(3).collect();
        let tasks = build_probe_tasks(
            &catalog,
            &people,
            &answers,
            &rows,
            &TaskSpec {
                setups: &setups,
                demos: spec,
                probe_granularity: Granularity::Polar,
                seed,
            },
        );
        let header =
            TaskFileHeader::new(TASK_FORMAT, &catalog, seed, "test", serde_json::json!({}));
        TaskFile::write(dir.join("tasks.jsonl"), &header, &tasks).unwrap();
        let ids: Vec<i64> = rows.iter().map(|&r| people.ids()[r]).collect();
        write_id_file(dir.join("eval_ids.txt"), &ids).unwrap();
        let (_, back): (_, Vec<ProbeTask>) =
            TaskFile::read(dir.join("tasks.jsonl"), &catalog, TASK_FORMAT).unwrap();
        assert_eq!(back, tasks);
        std::fs::read(dir.join("tasks.jsonl")).unwrap()
    };
    let (a, b, c) = (
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
    );
    let first = write(1, a.path());
    assert_eq!(first, write(1, b.path()));
    assert_ne!(first, write(2, c.path()));
    // Reading a task file as the wrong kind, or with another catalog, is refused.
    let wrong_kind = TaskFile::read::<ProbeTask>(a.path().join("tasks.jsonl"), &catalog, "x/1");
    assert!(wrong_kind.is_err());
    let tiny = Catalog::load(indievalue_testdata::fixtures_dir().join("tiny-meta")).unwrap();
    let err =
        TaskFile::read::<ProbeTask>(a.path().join("tasks.jsonl"), &tiny, TASK_FORMAT).unwrap_err();
    assert!(err.to_string().contains("catalog"), "{err}");
}

#[test]
fn training_sets_have_exactly_n_distinct_examples_per_question() {
    let catalog = Catalog::load(mini_catalog_dir()).unwrap();
    let people = synthetic(&catalog, 3_000, 3);
    let answers = AnswerMatrix::new(&people);
    let setups = ProbeSetup::of_survey(&catalog);
    let mut criteria = EvalCriteria::scaled(&catalog);
    criteria.people = 200;
    let eval = select_evaluation_set(&catalog, &people, &answers, &setups, &criteria, 1).unwrap();
    let pool = eval.training_rows(people.len());
    let recipe = TrainingRecipe::parse("p+r", "mixed:5-20+20", 120).unwrap();
    let examples = build_training_set(&catalog, &people, &answers, &pool, &recipe, 8).unwrap();
    assert_eq!(examples.len(), catalog.questions().len() * 120);
    let held: HashSet<i64> = eval.ids.iter().copied().collect();
    let mut pairs = HashSet::new();
    let mut per_question_combo: BTreeMap<(u16, Granularity, String), usize> = BTreeMap::new();
    for e in &examples {
        assert!(pairs.insert((e.question, e.person)), "pair twice");
        assert!(
            !held.contains(&e.person),
            "an evaluation person in training"
        );
        assert!(e.demonstrations.iter().all(|&(q, _)| q != e.question));
        assert_eq!(
            answers.answer(e.row as usize, e.question as usize, e.granularity),
            Some(e.gold)
        );
        *per_question_combo
            .entry((e.question, e.granularity, e.demo_mode.to_string()))
            .or_default() += 1;
    }
    assert_eq!(per_question_combo.len(), catalog.questions().len() * 4);
    assert!(per_question_combo.values().all(|&n| n == 30));
    // Reproducible, and written with ids.
    let again = build_training_set(&catalog, &people, &answers, &pool, &recipe, 8).unwrap();
    assert_eq!(again, examples);
    let dir = tempfile::tempdir().unwrap();
    let header = TaskFileHeader::new(TRAINING_FORMAT, &catalog, 8, "test", serde_json::json!({}));
    let path = dir.path().join("train.jsonl");
    write_training_set(&path, &header, &catalog, &people, &recipe, &examples).unwrap();
    let (_, records): (_, Vec<indievalue_sampling::TrainingRecord>) =
        TaskFile::read(&path, &catalog, TRAINING_FORMAT).unwrap();
    assert_eq!(records.len(), examples.len());
    assert_eq!(
        records[0],
        examples[0].record(&catalog, &people, recipe.demographics)
    );
    // Too many per question is an error naming the question.
    let greedy = TrainingRecipe::parse("p", "200", 1_000_000).unwrap();
    let err = build_training_set(&catalog, &people, &answers, &pool, &greedy, 8).unwrap_err();
    assert!(err.to_string().contains("question V1"), "{err}");
}

/// Every recipe of Table 18 (probes polar / refined / both; demonstrations fixed / mixed /
/// mixed plus fixed) and every Table 5 variant (statements only, demographics prepended,
/// demographics only): N examples per question split evenly over the recipe's combinations,
/// no (question, person) twice, no evaluation person, demographics exactly where asked for.
#[test]
fn every_table18_recipe_and_table5_variant_has_its_counts() {
    use indievalue_sampling::DemographicsMode;
    let catalog = Catalog::load(mini_catalog_dir()).unwrap();
    let people = synthetic(&catalog, 1_500, 5);
    let answers = AnswerMatrix::new(&people);
    let setups = ProbeSetup::of_survey(&catalog);
    let mut criteria = EvalCriteria::scaled(&catalog);
    criteria.people = 60;
    let eval = select_evaluation_set(&catalog, &people, &answers, &setups, &criteria, 2).unwrap();
    let pool = eval.training_rows(people.len());
    let held: HashSet<i64> = eval.ids.iter().copied().collect();
    let n = 12;
    for probes in ["p", "r", "p+r"] {
        for demos in ["20", "mixed:5-20", "mixed:5-20+20"] {
            for demographics in [
                DemographicsMode::None,
                DemographicsMode::Prepend,
                DemographicsMode::Only,
            ] {
                let what = format!("{probes}:{demos} {demographics:?}");
                let mut recipe = TrainingRecipe::parse(probes, demos, n).unwrap();
                recipe.demographics = demographics;
                let combos = recipe.combinations.len();
                let forms = if probes == "p+r" { 2 } else { 1 };
                let modes = if demos.contains('+') { 2 } else { 1 };
                assert_eq!(combos, forms * modes, "{what}");
                let examples =
                    build_training_set(&catalog, &people, &answers, &pool, &recipe, 4).unwrap();
                assert_eq!(examples.len(), catalog.questions().len() * n, "{what}");
                let mut pairs = HashSet::new();
                let mut per_combo: BTreeMap<(u16, Granularity, String), usize> = BTreeMap::new();
                for e in &examples {
                    assert!(pairs.insert((e.question, e.person)), "{what}: a pair twice");
                    assert!(!held.contains(&e.person), "{what}: an evaluation person");
                    *per_combo
                        .entry((e.question, e.granularity, e.demo_mode.to_string()))
                        .or_default() += 1;
                    let record = e.record(&catalog, &people, demographics);
                    match demographics {
                        DemographicsMode::None => {
                            assert!(record.demographics.is_empty(), "{what}");
                            assert!(!record.demonstrations.is_empty(), "{what}");
                        }
                        DemographicsMode::Prepend => {
                            assert!(!record.demographics.is_empty(), "{what}");
                            assert!(!record.demonstrations.is_empty(), "{what}");
                        }
                        DemographicsMode::Only => {
                            assert!(!record.demographics.is_empty(), "{what}");
                            assert!(record.demonstrations.is_empty(), "{what}");
                        }
                    }
                }
                // Demographics only: every combination's demonstrations become the
                // demographic statements, so the groups are the probe forms.
                let groups = if demographics == DemographicsMode::Only {
                    forms
                } else {
                    combos
                };
                assert_eq!(
                    per_combo.len(),
                    catalog.questions().len() * groups,
                    "{what}"
                );
                assert!(per_combo.values().all(|&c| c == n / groups), "{what}");
            }
        }
    }
}

/// What the ablations vary, and nothing else: demonstrations from one category come only from
/// that category (and never from a probe question); with and without demographics the tasks
/// differ only in the demographic statements; refined demonstrations are the same questions as
/// the polar ones.
#[test]
fn ablation_tasks_vary_only_what_they_vary() {
    use indievalue_sampling::build_category_tasks;
    let catalog = Catalog::load(mini_catalog_dir()).unwrap();
    let people = synthetic(&catalog, 1_000, 9);
    let answers = AnswerMatrix::new(&people);
    let setups = ProbeSetup::of_survey(&catalog);
    let mut criteria = EvalCriteria::scaled(&catalog);
    criteria.people = 30;
    let eval = select_evaluation_set(&catalog, &people, &answers, &setups, &criteria, 4).unwrap();
    let spec = |granularity, demographics| TaskSpec {
        setups: &setups,
        demos: DemoSpec {
            mode: DemoMode::Fixed(12),
            granularity,
            demographics,
        },
        probe_granularity: Granularity::Polar,
        seed: 6,
    };
    let build = |g, d| build_probe_tasks(&catalog, &people, &answers, &eval.rows, &spec(g, d));
    let plain = build(Granularity::Polar, false);
    // Demographics: the same tasks apart from the demographic statements.
    let with = build(Granularity::Polar, true);
    assert_eq!(plain.len(), with.len());
    let mut differ = 0;
    for (a, b) in plain.iter().zip(&with) {
        assert!(a.demographics.is_empty());
        differ += usize::from(!b.demographics.is_empty());
        let mut b = b.clone();
        b.demographics.clear();
        assert_eq!(*a, b);
    }
    assert!(differ > 0, "nobody got demographic statements");
    // Refined demonstrations: the same questions, in the same order.
    let refined = build(Granularity::Refined, false);
    let mut statements_differ = false;
    for (a, b) in plain.iter().zip(&refined) {
        let qa: Vec<&str> = a
            .demonstrations
            .iter()
            .map(|d| d.question.as_str())
            .collect();
        let qb: Vec<&str> = b
            .demonstrations
            .iter()
            .map(|d| d.question.as_str())
            .collect();
        assert_eq!(qa, qb);
        assert_eq!(a.probes, b.probes);
        assert_eq!(b.demo_granularity, Granularity::Refined);
        statements_differ |= a.demonstrations != b.demonstrations;
    }
    assert!(
        statements_differ,
        "refined statements are other indices than polar ones"
    );
    // One category at a time: only its questions, never a probe question, and every one the
    // person answered outside the probes (up to the count).
    for category in catalog.categories() {
        let only = build_category_tasks(
            &catalog,
            &people,
            &answers,
            &eval.rows,
            &spec(Granularity::Polar, false),
            &[category],
        );
        assert_eq!(only.len(), plain.len());
        let mut seen = 0;
        for (t, p) in only.iter().zip(&plain) {
            assert_eq!(t.probes, p.probes);
            let probes: HashSet<&str> = t.probes.iter().map(|p| p.question.as_str()).collect();
            for d in &t.demonstrations {
                let q = catalog.question(&d.question).unwrap();
                assert_eq!(q.category(), category);
                assert!(!probes.contains(d.question.as_str()));
                seen += 1;
            }
        }
        assert!(seen > 0, "{category:?}: no demonstrations at all");
    }
}
