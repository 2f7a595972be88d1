//! The paper's catalog figures (Table 1, Table 6, §2.1), checked exactly on the authors' metadata.
//! Needs INDIEVALUE_META_DIR (set by .ci/run and the README's test command).

use indievalue_catalog::{Catalog, Granularity, meta_dir_from_env};

fn shared_catalog() -> Catalog {
    let dir = meta_dir_from_env().expect(
        "INDIEVALUE_META_DIR is not set: point it at the authors' metadata \
         (../shared/indievalue-meta); the README's test command does",
    );
    Catalog::load(&dir).unwrap_or_else(|e| panic!("loading {}: {e}", dir.display()))
}

#[test]
fn table_1_totals() {
    let stats = shared_catalog().stats();
    assert_eq!(stats.questions, 253);
    assert_eq!(stats.statements_polar, 567);
    assert_eq!(stats.statements_refined, 929);
    assert_eq!(stats.demographics, 31);
}

#[test]
fn table_6_every_category_row() {
    let expected = [
        ("Social Values, Attitudes & Stereotypes", 45, 103, 145),
        ("Happiness and Well-Being", 11, 23, 44),
        (
            "Social Capital, Trust & Organizational Membership",
            44,
            88,
            163,
        ),
        ("Economic Values", 6, 12, 22),
        ("Corruption", 9, 19, 37),
        ("Migration", 10, 29, 33),
        ("Security", 21, 42, 68),
        ("Postmaterialist Index", 6, 24, 24),
        ("Science & Technology", 6, 12, 24),
        ("Religious Values", 12, 27, 42),
        ("Ethical Values and Norms", 23, 46, 92),
        ("Political Interest & Political Participation", 35, 92, 135),
        ("Political Culture & Political Regimes", 25, 50, 100),
    ];
    let stats = shared_catalog().stats();
    assert_eq!(stats.categories.len(), 13);
    for (i, (row, (name, q, p, r))) in stats.categories.iter().zip(expected).enumerate() {
        assert_eq!(row.category.index(), i);
        assert_eq!(
            (row.name.as_str(), row.questions, row.polar, row.refined),
            (name, q, p, r)
        );
    }
    // Table 6's ratio columns, to the paper's two decimals.
    let ratios: Vec<String> = stats
        .categories
        .iter()
        .map(|r| {
            format!(
                "{:.2}/{:.2}",
                r.polar_per_question(),
                r.refined_per_question()
            )
        })
        .collect();
    assert_eq!(ratios[0], "2.29/3.22");
    assert_eq!(ratios[5], "2.90/3.30");
    assert_eq!(ratios[11], "2.63/3.86");
    assert_eq!(format!("{:.2}", stats.polar_per_question()), "2.24");
    assert_eq!(format!("{:.2}", stats.refined_per_question()), "3.67");
}

#[test]
fn answer_space_matches_section_2_1() {
    let stats = shared_catalog().stats();
    let polar = stats.answer_space(Granularity::Polar);
    let refined = stats.answer_space(Granularity::Refined);
    assert_eq!(format!("{:.3}", polar.log10), "86.595");
    assert_eq!(format!("{:.3}", refined.log10), "139.219");
    assert_eq!(polar.scientific(3), "3.94e86");
    assert_eq!(refined.scientific(3), "1.65e139");
    // The exact product has 87 and 140 digits.
    assert_eq!(polar.exact.len(), 87);
    assert_eq!(refined.exact.len(), 140);
}

#[test]
fn demographics_and_continents() {
    let catalog = shared_catalog();
    let ids: Vec<&str> = catalog.demographics().iter().map(|d| d.id()).collect();
    assert_eq!(ids[0], "B_COUNTRY");
    assert_eq!(ids[1], "B_COUNTRY_to_continent");
    assert!(ids.contains(&"Q289") && ids.contains(&"X003R") && ids.contains(&"Q288R"));
    let continent = catalog.demographic("B_COUNTRY_to_continent").unwrap();
    assert_eq!(continent.column(), "B_COUNTRY");
    // New Zealand (554) is in Oceania, Andorra (20) in Europe; six continents, alphabetical.
    let group = |code| {
        continent.groups()[continent.group_of_option(continent.option_for_code(code).unwrap())]
            .as_str()
    };
    assert_eq!(group(554), "Oceania");
    assert_eq!(group(20), "Europe");
    assert_eq!(
        continent.groups(),
        [
            "Africa",
            "Asia",
            "Europe",
            "North America",
            "Oceania",
            "South America"
        ]
    );
    assert_eq!(
        catalog
            .demographic("B_COUNTRY")
            .unwrap()
            .statement_for_code(20),
        Some("I am currently in Andorra")
    );
}

#[test]
fn questions_are_grouped_and_coded_as_in_the_metadata() {
    let catalog = shared_catalog();
    let q1 = catalog.question("Q1").unwrap();
    assert_eq!(
        q1.statements(Granularity::Polar).statement_for_code(2),
        Some(0)
    );
    assert_eq!(
        q1.statements(Granularity::Refined).statement_for_code(2),
        Some(1)
    );
    assert_eq!(
        q1.statements(Granularity::Polar).statement_for_code(-1),
        None
    );
    let by_cat: usize = catalog
        .categories()
        .iter()
        .map(|&c| catalog.by_category(c).count())
        .sum();
    assert_eq!(by_cat, 253);
}
