//! The hand-written `fixtures/tiny-wvs.csv` against the tiny catalog, with every expected figure
//! worked out by hand (see the comments), and every bad-input case.

use indievalue_catalog::{Catalog, Granularity, Respondents};
use indievalue_convert::{
    ConvertOptions, EmptyCell, Error, REPORT_FILE, RESPONDENTS_FILE, convert_file, convert_reader,
    write_dataset,
};
use indievalue_testdata::fixtures_dir;

fn tiny() -> Catalog {
    Catalog::load(fixtures_dir().join("tiny-meta")).unwrap()
}

const HEADER: &str = "W_WEIGHT,Q260,T3,D_INTERVIEW,T1,B_COUNTRY,T2,version";

fn convert_text(text: &str) -> Result<indievalue_convert::Conversion, Error> {
    convert_reader(
        &tiny(),
        text.as_bytes(),
        "test.csv",
        &ConvertOptions::default(),
    )
}

#[test]
fn tiny_fixture_converts_as_worked_out_by_hand() {
    let catalog = tiny();
    // The file has a UTF-8 BOM, CRLF line ends, columns in odd order, two extra columns (one a
    // quoted text with a comma), and person 102 twice (the second row is dropped).
    let conversion = convert_file(
        &catalog,
        fixtures_dir().join("tiny-wvs.csv"),
        &ConvertOptions::default(),
    )
    .unwrap();
    let people = &conversion.respondents;
    assert_eq!(people.ids(), &[101, 102, 103, 104]);

    // (polar, refined) per person for T1, T2, T3; None for no valid answer.
    // 101: T1=1 -> (0,0); T2=10 -> (1,3); T3=0 -> (0,0)
    // 102: T1=4 -> (1,3); T2=5 -> (0,1); T3=2 -> (1,2)
    // 103: T1=3 -> (1,2); T2=-4 -> none; T3=-1 -> none
    // 104: T1=2 -> (0,1); T2=6 -> (1,2); T3=7 (unknown code) -> none
    let expected: [[Option<(u8, u8)>; 3]; 4] = [
        [Some((0, 0)), Some((1, 3)), Some((0, 0))],
        [Some((1, 3)), Some((0, 1)), Some((1, 2))],
        [Some((1, 2)), None, None],
        [Some((0, 1)), Some((1, 2)), None],
    ];
    for (p, row) in expected.iter().enumerate() {
        for (q, want) in row.iter().enumerate() {
            let got = people.answer(p, q, Granularity::Polar).zip(people.answer(
                p,
                q,
                Granularity::Refined,
            ));
            assert_eq!(got, *want, "person {p} question {q}");
        }
    }
    assert_eq!(people.question(2).raw, vec![0, 2, -1, 7]);

    // Demographics: code-list options are the codes in ascending order (36 -> 0, 276 -> 1), for
    // the country and for the continent item, which reads the same column; Q260 1 -> 0, 2 -> 1,
    // -2 -> none.
    let country = catalog.demographic_index("B_COUNTRY").unwrap();
    let continent = catalog.demographic_index("B_COUNTRY_to_continent").unwrap();
    let sex = catalog.demographic_index("Q260").unwrap();
    let options = |item: usize| -> Vec<Option<u16>> {
        (0..4).map(|p| people.demographic_option(p, item)).collect()
    };
    assert_eq!(options(country), vec![Some(0), Some(1), Some(1), Some(0)]);
    assert_eq!(options(continent), vec![Some(0), Some(1), Some(1), Some(0)]);
    assert_eq!(options(sex), vec![Some(0), Some(1), None, Some(0)]);
    assert_eq!(
        catalog.demographics()[continent].options()[0].statement,
        "I am living in Oceania"
    );

    // Report: 5 rows, 4 people, 1 duplicate. Valid answers 3 + 3 + 1 + 2 = 9, mean 2.25;
    // deviations .75 .75 -1.25 -.25, squares sum 2.75, population variance .6875.
    let r = &conversion.report;
    assert_eq!(r.rows_read, 5);
    assert_eq!(r.people, 4);
    assert_eq!(r.duplicates_dropped, 1);
    assert_eq!(r.truncated_last_line, None);
    assert!(!r.last_line_unterminated);
    assert_eq!(r.valid_answers, 9);
    assert_eq!(r.valid_per_person_mean, 2.25);
    assert!((r.valid_per_person_sd - 0.6875f64.sqrt()).abs() < 1e-12);
    assert_eq!(r.people_all_253, 2);
    // Demographics valid: 3 + 3 + 2 + 3 = 11 over 4 people.
    assert_eq!(r.valid_demographics_mean, 2.75);
    assert_eq!(r.balance_by.as_deref(), Some("B_COUNTRY_to_continent"));
    assert_eq!(r.per_group.get("Oceania"), Some(&2));
    assert_eq!(r.per_group.get("Europe"), Some(&2));
    type Row = (String, u64, Vec<(i32, u64)>);
    let invalid: Vec<Row> = r
        .invalid_codes
        .iter()
        .map(|i| {
            (
                i.question.clone(),
                i.total,
                i.codes.iter().map(|(&c, &n)| (c, n)).collect(),
            )
        })
        .collect();
    assert_eq!(
        invalid,
        vec![
            ("T1".to_owned(), 0, vec![]),
            ("T2".to_owned(), 1, vec![(-4, 1)]),
            ("T3".to_owned(), 2, vec![(-1, 1), (7, 1)]),
        ]
    );
}

#[test]
fn dataset_is_written_atomically_and_reads_back() {
    let catalog = tiny();
    let conversion = convert_file(
        &catalog,
        fixtures_dir().join("tiny-wvs.csv"),
        &ConvertOptions::default(),
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("data");
    write_dataset(&catalog, &conversion, &out).unwrap();
    let mut names: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, vec![REPORT_FILE, RESPONDENTS_FILE]);
    let back = Respondents::read_parquet(&catalog, out.join(RESPONDENTS_FILE)).unwrap();
    assert_eq!(back, conversion.respondents);
    let report = indievalue_convert::read_report(&out).unwrap();
    assert_eq!(report, conversion.report);
}

#[test]
fn missing_column_is_named() {
    let text = "D_INTERVIEW,T1,T3,Q260,B_COUNTRY\n1,1,1,1,36\n";
    match convert_text(text) {
        Err(Error::MissingColumn { column, .. }) => assert_eq!(column, "T2"),
        other => panic!("expected MissingColumn, got {other:?}"),
    }
    let err = convert_text(text).unwrap_err().to_string();
    assert!(err.contains("T2") && err.contains("test.csv"), "{err}");
}

#[test]
fn non_integer_cell_names_row_column_and_value() {
    let text = format!("{HEADER}\n1,1,0,101,1,36,10,v\n1,1,0,102,x,36,10,v\n");
    match convert_text(&text) {
        Err(Error::NotInteger {
            line,
            row,
            column,
            value,
            ..
        }) => {
            assert_eq!((line, row), (3, 2));
            assert_eq!(column, "T1");
            assert_eq!(value, "x");
        }
        other => panic!("expected NotInteger, got {other:?}"),
    }
    let message = convert_text(&text).unwrap_err().to_string();
    assert!(
        message.contains("line 3") && message.contains("\"x\""),
        "{message}"
    );
}

#[test]
fn empty_cells_are_errors_unless_mapped() {
    let text = format!("{HEADER}\n1,1,,101,1,36,10,v\n");
    assert!(matches!(
        convert_text(&text),
        Err(Error::NotInteger { ref column, ref value, .. }) if column == "T3" && value.is_empty()
    ));
    let options = ConvertOptions {
        empty_cell: EmptyCell::Code(-5),
    };
    let conversion = convert_reader(&tiny(), text.as_bytes(), "t.csv", &options).unwrap();
    assert_eq!(conversion.respondents.question(2).raw, vec![-5]);
    assert_eq!(conversion.report.invalid_codes[2].codes.get(&-5), Some(&1));
}

#[test]
fn empty_file_and_header_only_are_errors() {
    assert!(matches!(convert_text(""), Err(Error::Empty { .. })));
    assert!(matches!(convert_text("\n"), Err(Error::Empty { .. })));
    assert!(matches!(
        convert_text(&format!("{HEADER}\n")),
        Err(Error::NoRows { .. })
    ));
    assert!(matches!(convert_text(HEADER), Err(Error::NoRows { .. })));
}

#[test]
fn truncated_last_line_is_reported_not_silently_dropped() {
    let text = format!("{HEADER}\n1,1,0,101,1,36,10,v\n1,2,2,102,4,2");
    let conversion = convert_text(&text).unwrap();
    assert_eq!(conversion.report.truncated_last_line, Some(3));
    assert_eq!(conversion.report.people, 1);
    assert_eq!(conversion.report.rows_read, 1);
    // A complete last row without a line end is kept, and flagged: it may be cut in its last field.
    let unterminated = format!("{HEADER}\n1,1,0,101,1,36,10,v\n1,2,2,102,4,276,5,v");
    let conversion = convert_text(&unterminated).unwrap();
    assert_eq!(conversion.report.people, 2);
    assert!(conversion.report.last_line_unterminated);
    assert!(
        !convert_text(&format!("{unterminated}\n"))
            .unwrap()
            .report
            .last_line_unterminated
    );
}

#[test]
fn short_line_in_the_middle_is_an_error() {
    let text = format!("{HEADER}\n1,1,0,101,1,36\n1,2,2,102,4,276,5,v\n");
    match convert_text(&text) {
        Err(Error::FieldCount {
            line,
            expected,
            found,
            ..
        }) => assert_eq!((line, expected, found), (2, 8, 6)),
        other => panic!("expected FieldCount, got {other:?}"),
    }
    let long = format!("{HEADER}\n1,1,0,101,1,36,10,v,extra\n");
    assert!(matches!(
        convert_text(&long),
        Err(Error::FieldCount { found: 9, .. })
    ));
}

#[test]
fn missing_input_file_is_an_io_error_naming_it() {
    let err =
        convert_file(&tiny(), "/nonexistent/wvs.csv", &ConvertOptions::default()).unwrap_err();
    assert!(matches!(err, Error::Io { .. }));
    assert!(err.to_string().contains("/nonexistent/wvs.csv"));
}
