//! Hand-worked accuracy, log-loss, Brier and inequity cases; files and plots.

use indievalue_catalog::FileHeader as TaskFileHeader;
use indievalue_catalog::{Catalog, Granularity, Respondents};
use indievalue_metrics::{
    AccuracyReport, Bootstrap, Dimension, InequityIndex, PREDICTIONS_FORMAT, Prediction,
    PredictionsFile, plots,
};
use indievalue_testdata::{fixtures_dir, mini_catalog_dir};

fn p(person: i64, setup: usize, question: &str, predicted: Option<u8>, gold: u8) -> Prediction {
    Prediction {
        person,
        setup,
        question: question.into(),
        granularity: Granularity::Polar,
        predicted,
        gold,
        probabilities: None,
    }
}

#[test]
fn accuracy_by_hand() {
    let catalog = Catalog::load(mini_catalog_dir()).unwrap();
    // Person 1: setup 0 one of two right (50), setup 1 unanswered (0): 25.
    // Person 2: everything right: 100. Overall 62.5; setup 0 (50+100)/2, setup 1 (0+100)/2.
    // V1 is Social Values (3 of 4 right), V6 Happiness (1 of 2).
    let predictions = vec![
        p(1, 0, "V1", Some(0), 0),
        p(1, 0, "V6", Some(1), 0),
        p(1, 1, "V1", None, 1),
        p(2, 0, "V1", Some(1), 1),
        p(2, 0, "V6", Some(0), 0),
        p(2, 1, "V1", Some(0), 0),
    ];
    let r = AccuracyReport::compute(&catalog, &predictions, &Bootstrap::default()).unwrap();
    assert_eq!(r.people, 2);
    assert_eq!(r.unanswered, 1);
    assert_eq!(r.per_person, vec![(1, 25.0), (2, 100.0)]);
    assert_eq!(r.overall, 62.5);
    assert_eq!(r.per_setup.get(&0), Some(&75.0));
    assert_eq!(r.per_setup.get(&1), Some(&50.0));
    assert_eq!(r.setup_average(), 62.5);
    let cats: Vec<(String, f64)> = r
        .per_category
        .iter()
        .map(|c| (catalog.category_name(c.category).to_owned(), c.accuracy))
        .collect();
    assert_eq!(
        cats,
        vec![
            ("Social Values, Attitudes & Stereotypes".to_owned(), 75.0),
            ("Happiness and Well-Being".to_owned(), 50.0)
        ]
    );
    // The bootstrap interval over two people lies between their accuracies and holds the mean.
    assert!(r.ci_low >= 25.0 && r.ci_high <= 100.0 && r.ci_low <= 62.5 && r.ci_high >= 62.5);
    assert_eq!(r.log_loss, None);
    // Out-of-range indices and unknown questions are errors.
    assert!(
        AccuracyReport::compute(
            &catalog,
            &[p(1, 0, "V1", Some(7), 0)],
            &Bootstrap::default()
        )
        .is_err()
    );
    assert!(
        AccuracyReport::compute(
            &catalog,
            &[p(1, 0, "nope", Some(0), 0)],
            &Bootstrap::default()
        )
        .is_err()
    );
    assert!(AccuracyReport::compute(&catalog, &[], &Bootstrap::default()).is_err());
    // The same (person, setup, question) twice, as after a botched resume, is an error.
    let twice = [p(1, 0, "V1", Some(0), 0), p(1, 0, "V1", Some(0), 0)];
    assert!(AccuracyReport::compute(&catalog, &twice, &Bootstrap::default()).is_err());
}

#[test]
fn log_loss_and_brier_by_hand() {
    let catalog = Catalog::load(mini_catalog_dir()).unwrap();
    let mut a = p(1, 0, "V1", Some(0), 0);
    a.probabilities = Some(vec![0.8, 0.2]);
    let mut b = p(1, 0, "V6", Some(1), 0);
    b.probabilities = Some(vec![0.25, 0.75]);
    let r = AccuracyReport::compute(&catalog, &[a, b], &Bootstrap::default()).unwrap();
    let expected_log_loss = (-(0.8f64.ln()) - 0.25f64.ln()) / 2.0;
    assert!((r.log_loss.unwrap() - expected_log_loss).abs() < 1e-6);
    // (0.2² + 0.2²) and (0.75² + 0.75²): 0.08 and 1.125, mean 0.6025.
    assert!((r.brier.unwrap() - 0.6025).abs() < 1e-6);
}

#[test]
fn inequity_by_hand() {
    let catalog = Catalog::load(fixtures_dir().join("tiny-meta")).unwrap();
    // Four people: countries 36 36 276 276; Q260 man man woman (no answer).
    let people = Respondents::from_raw(
        &catalog,
        vec![1, 2, 3, 4],
        vec![vec![1, 1, 1, 1]; 3],
        vec![
            vec![36, 36, 276, 276],
            vec![36, 36, 276, 276],
            vec![1, 1, 2, -2],
        ],
    )
    .unwrap();
    let accuracy = [(1, 50.0), (2, 70.0), (3, 80.0), (4, 90.0)];
    let dim = |name: &str, item: &str| Dimension {
        name: name.into(),
        item: item.into(),
    };
    let dims = vec![
        dim("Country", "B_COUNTRY"),
        dim("Continent", "B_COUNTRY_to_continent"),
        dim("Sex", "Q260"),
    ];
    // Country and continent: 60 and 85, sample sd sqrt(2 * 12.5²) = 17.678; population 12.5.
    // Sex: 60 and 80 (person 4 left out), sample sd 14.142; population 10.
    let sample = InequityIndex::compute(&catalog, &people, &accuracy, &dims, 1).unwrap();
    let sds: Vec<f64> = sample.rows.iter().map(|r| r.sd.unwrap()).collect();
    assert!((sds[0] - 12.5 * 2f64.sqrt()).abs() < 1e-9);
    assert!((sds[1] - 12.5 * 2f64.sqrt()).abs() < 1e-9);
    assert!((sds[2] - 10.0 * 2f64.sqrt()).abs() < 1e-9);
    assert!((sample.index - (25.0 * 2f64.sqrt() + 10.0 * 2f64.sqrt()) / 3.0).abs() < 1e-9);
    assert_eq!(sample.rows[2].groups.len(), 2);
    assert_eq!(sample.rows[2].groups[0].group, "a man");
    assert_eq!(sample.rows[2].groups[0].people, 2);
    // The tiny catalog's continent labels are distinct, so its groups keep the code order
    // (36 Oceania before 276 Europe); where labels repeat (the WVS) they are alphabetical.
    assert_eq!(sample.rows[1].groups[0].group, "Oceania");
    let population = InequityIndex::compute(&catalog, &people, &accuracy, &dims, 0).unwrap();
    assert!((population.index - 35.0 / 3.0).abs() < 1e-9);
    // The table ends with the index; unknown people and items are errors.
    let table = sample.table();
    assert!(table.to_markdown().contains("sigma-INEQUITY"));
    assert!(InequityIndex::compute(&catalog, &people, &[(99, 1.0)], &dims, 1).is_err());
    assert!(
        InequityIndex::compute(&catalog, &people, &accuracy, &[dim("Age", "X003R")], 1).is_err()
    );
}

#[test]
fn predictions_files_append_and_read_back() {
    let catalog = Catalog::load(mini_catalog_dir()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.jsonl");
    let header = TaskFileHeader::new(
        PREDICTIONS_FORMAT,
        &catalog,
        3,
        "test",
        serde_json::json!({"reasoner": "x"}),
    );
    PredictionsFile::start(&path, &header).unwrap();
    let mut with_probs = p(1, 0, "V1", Some(0), 0);
    with_probs.probabilities = Some(vec![0.5, 0.5]);
    PredictionsFile::append(&path, &[with_probs.clone()]).unwrap();
    PredictionsFile::append(&path, &[p(2, 1, "V6", None, 1)]).unwrap();
    // A killed run leaves a torn last line: recover cuts it off.
    let torn = std::fs::read(&path).unwrap();
    std::fs::write(&path, [torn.as_slice(), b"{\"person\":3,\"se"].concat()).unwrap();
    assert!(PredictionsFile::read(&path, &catalog).is_err());
    assert_eq!(PredictionsFile::recover(&path).unwrap(), 15);
    let (h, back) = PredictionsFile::read(&path, &catalog).unwrap();
    assert_eq!(h, header);
    assert_eq!(back, vec![with_probs, p(2, 1, "V6", None, 1)]);
}

#[test]
fn plots_are_written_as_png_and_svg() {
    let dir = tempfile::tempdir().unwrap();
    let cats = vec!["Security".to_owned(), "Migration".to_owned()];
    let files = plots::category_accuracy(
        dir.path().join("categories"),
        "Accuracy per category",
        &cats,
        &[
            ("global".into(), vec![60.0, 40.0]),
            ("top-24".into(), vec![70.0, 55.0]),
        ],
    )
    .unwrap();
    assert_eq!(files.len(), 2);
    let png = std::fs::read(&files[0]).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    let svg = std::fs::read_to_string(&files[1]).unwrap();
    assert!(
        svg.contains("Migration") && svg.contains("top-24"),
        "labels in the SVG"
    );
    plots::group_accuracy(
        dir.path().join("groups"),
        "Continent",
        &[("Europe".into(), 61.0)],
    )
    .unwrap();
    let sweep = plots::top_k_sweep(
        dir.path().join("sweep"),
        "top-k",
        &[1, 2, 3],
        &[("avg".into(), vec![60.0, 62.0, 63.0])],
    )
    .unwrap();
    assert!(std::fs::metadata(&sweep[0]).unwrap().len() > 1000);
}
