//! The paper's figures the report shows beside ours (arXiv 2410.03868): facts from its tables,
//! typed, so that a report on the real survey can be read against them.

/// Table 1 (and §2): what the paper reports of the catalog and the converted survey.
pub mod table1 {
    /// Value questions.
    pub const QUESTIONS: usize = 253;
    /// Polar statements.
    pub const STATEMENTS_POLAR: usize = 567;
    /// Refined statements.
    pub const STATEMENTS_REFINED: usize = 929;
    /// Answer space, polar (the product of statements per question).
    pub const ANSWER_SPACE_POLAR: &str = "3.94e86";
    /// Answer space, refined.
    pub const ANSWER_SPACE_REFINED: &str = "1.65e139";
    /// People in the converted survey.
    pub const PEOPLE: u64 = 93_279;
    /// Valid answers (the paper rounds: 22.6M).
    pub const VALID_ANSWERS: &str = "22.6M";
    /// Valid answers per person, mean.
    pub const VALID_PER_PERSON_MEAN: f64 = 242.03;
    /// Valid answers per person, standard deviation.
    pub const VALID_PER_PERSON_SD: f64 = 17.31;
    /// People who answered all 253 questions.
    pub const PEOPLE_ALL_253: u64 = 15_819;
}

/// Table 6: questions, polar and refined statements per category, by the metadata's category
/// name.
const TABLE6: [(&str, usize, usize, usize); 13] = [
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

/// Table 6's (questions, polar statements, refined statements) of a WVS category; `None` for a
/// name the paper has not.
pub fn table6(category: &str) -> Option<(usize, usize, usize)> {
    TABLE6
        .iter()
        .find(|(name, ..)| *name == category)
        .map(|&(_, q, p, r)| (q, p, r))
}

/// A row of Table 4: polar per setup, refined per setup (the averages and "All" follow).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Table4Row {
    /// The row's name as the paper prints it.
    pub name: &'static str,
    /// Polar accuracy, probe setups 1-3.
    pub polar: [f64; 3],
    /// Polar average as printed.
    pub polar_avg: f64,
    /// Refined accuracy, probe setups 1-3.
    pub refined: [f64; 3],
    /// Refined average as printed.
    pub refined_avg: f64,
    /// "All" as printed.
    pub all: f64,
}

const fn row(name: &'static str, v: [f64; 9]) -> Table4Row {
    Table4Row {
        name,
        polar: [v[0], v[1], v[2]],
        polar_avg: v[3],
        refined: [v[4], v[5], v[6]],
        refined_avg: v[7],
        all: v[8],
    }
}

/// Table 4 as printed.
pub const TABLE4: [Table4Row; 14] = [
    row(
        "Random",
        [
            46.37, 45.51, 44.23, 45.37, 29.16, 29.03, 25.43, 27.87, 36.62,
        ],
    ),
    row(
        "Global (majority vote)",
        [
            66.60, 65.98, 62.28, 64.95, 49.82, 49.08, 47.20, 48.70, 56.83,
        ],
    ),
    row(
        "Resemble (top 1)",
        [
            70.31, 70.15, 69.02, 69.83, 53.26, 54.01, 53.27, 53.51, 61.67,
        ],
    ),
    row(
        "Resemble (top cluster)",
        [
            74.74, 74.87, 71.60, 73.73, 59.32, 60.78, 58.32, 59.47, 66.60,
        ],
    ),
    row(
        "GPT-4o (no demo.)",
        [
            58.80, 57.60, 47.98, 54.79, 35.50, 32.92, 30.76, 33.06, 43.93,
        ],
    ),
    row(
        "GPT-4o (only demographics)",
        [
            62.13, 62.67, 56.13, 60.31, 41.57, 43.10, 37.40, 40.69, 50.50,
        ],
    ),
    row(
        "GPT-4o (200 demo.)",
        [
            65.21, 64.77, 60.39, 63.46, 36.12, 38.70, 31.94, 35.59, 49.52,
        ],
    ),
    row(
        "Llama-3.1-8B (200 demo.)",
        [
            53.06, 56.16, 53.82, 54.34, 35.64, 39.32, 38.94, 37.97, 46.16,
        ],
    ),
    row(
        "[probe=p, demo=mixed, N=800]",
        [
            74.03, 75.45, 71.28, 73.59, 43.22, 48.42, 40.61, 44.08, 58.84,
        ],
    ),
    row(
        "[probe=r, demo=mixed, N=800]",
        [
            73.23, 75.24, 71.27, 73.25, 58.82, 62.31, 58.67, 59.94, 66.59,
        ],
    ),
    row(
        "[probe=p+r, demo=200, N=800]",
        [
            73.96, 75.13, 71.25, 73.45, 57.52, 61.38, 57.61, 58.84, 66.14,
        ],
    ),
    row(
        "[probe=p+r, demo=mixed, N=800]",
        [
            74.21, 75.32, 71.24, 73.59, 58.27, 61.71, 58.21, 59.40, 66.49,
        ],
    ),
    row(
        "[probe=p+r, demo=mixed+200, N=800]",
        [
            74.65, 75.94, 72.28, 74.29, 59.20, 62.31, 59.18, 60.23, 67.26,
        ],
    ),
    row(
        "[probe=p+r, demo=mixed+200, N=1600]",
        [
            75.05, 76.42, 72.76, 74.74, 59.42, 62.68, 59.72, 60.60, 67.67,
        ],
    ),
];

/// The Table 4 row named `name`.
pub fn table4_row(name: &str) -> Option<&'static Table4Row> {
    TABLE4.iter().find(|r| r.name == name)
}

/// Table 15 (polar, per setup and overall) as printed.
pub const TABLE15: [(&str, [f64; 4]); 10] = [
    ("GPT-4o (0806)", [65.21, 64.77, 60.39, 63.46]),
    ("GPT-4-turbo (0409)", [65.08, 65.73, 60.41, 63.74]),
    ("GPT-4o (0513)", [65.66, 64.85, 60.61, 63.71]),
    ("GPT-4o-mini (0718)", [60.05, 64.13, 58.21, 60.80]),
    ("LLama-3.1-8B", [58.72, 62.09, 53.80, 58.20]),
    ("LLama-3.1-70B", [65.41, 66.53, 59.20, 63.71]),
    ("Mixtral-8x7B", [59.18, 58.03, 51.58, 56.26]),
    ("Mixtral-8x22B", [62.91, 63.47, 57.10, 61.16]),
    ("Qwen2-72B", [65.10, 65.16, 60.58, 63.61]),
    ("Claude-3.5 (Sonnet)", [65.74, 66.48, 61.76, 64.66]),
];

/// The Table 15 row named `name`.
pub fn table15_row(name: &str) -> Option<[f64; 4]> {
    TABLE15.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
}

/// Table 14 (GPT-4o (0806), polar probes): the demonstrations' form, then probe setups 1-3
/// and the average.
pub const TABLE14: [(&str, [f64; 4]); 2] = [
    ("refined", [64.96, 64.97, 60.91, 63.61]),
    ("polar", [65.21, 64.77, 60.39, 63.46]),
];

/// The models of Table 16's columns, in order.
pub const TABLE16_MODELS: [&str; 10] = [
    "LLama-3.1-8B",
    "GPT-4o (0806)",
    "GPT-4-turbo (0409)",
    "GPT-4o (0513)",
    "GPT-4o-mini (0718)",
    "LLama-3.1-70B",
    "Mixtral-8x7B",
    "Mixtral-8x22B",
    "Qwen2-72B",
    "Claude-3.5 (Sonnet)",
];

/// Table 16: the Value Inequity Index per dimension (rows) and model (columns of
/// [`TABLE16_MODELS`]); the last row is the average (Table 2).
#[allow(clippy::approx_constant)] // Claude-3.5's average is 3.14, not pi
pub const TABLE16: [(&str, [f64; 10]); 17] = [
    (
        "Country",
        [3.47, 3.97, 3.79, 3.88, 3.67, 2.94, 4.14, 3.98, 4.24, 4.14],
    ),
    (
        "Continent",
        [5.55, 5.67, 5.43, 5.37, 5.09, 3.85, 5.64, 5.95, 5.85, 5.72],
    ),
    (
        "Sex",
        [0.98, 0.50, 0.27, 0.52, 0.42, 0.14, 0.45, 0.54, 0.35, 0.18],
    ),
    (
        "Age",
        [2.33, 2.31, 2.17, 2.13, 2.18, 1.36, 2.18, 2.50, 2.63, 2.19],
    ),
    (
        "Immigration Status",
        [4.58, 4.62, 4.22, 4.41, 4.20, 2.90, 4.29, 5.04, 4.54, 4.71],
    ),
    (
        "Birth Country",
        [4.96, 5.10, 4.74, 4.92, 4.50, 3.63, 6.23, 5.86, 5.49, 5.43],
    ),
    (
        "Citizenship",
        [2.44, 3.22, 3.48, 2.92, 2.51, 0.38, 3.97, 2.87, 4.16, 4.18],
    ),
    (
        "Marital Status",
        [1.10, 1.36, 1.55, 1.39, 0.97, 0.58, 1.45, 1.47, 1.86, 1.95],
    ),
    (
        "Education",
        [3.73, 4.06, 3.31, 3.69, 2.87, 2.92, 4.37, 3.39, 3.98, 3.81],
    ),
    (
        "Employment Status",
        [2.73, 2.65, 2.53, 2.62, 2.07, 1.54, 2.76, 2.58, 2.66, 2.77],
    ),
    (
        "Occupation",
        [2.44, 2.66, 2.29, 2.48, 2.19, 1.90, 2.47, 2.58, 2.69, 2.66],
    ),
    (
        "Employment Sector",
        [1.19, 1.33, 1.01, 1.08, 1.07, 0.92, 1.10, 0.78, 1.24, 1.05],
    ),
    (
        "Family Saving",
        [3.23, 3.18, 3.06, 2.99, 2.73, 2.04, 3.09, 3.25, 3.51, 3.22],
    ),
    (
        "Social Class",
        [2.97, 2.83, 2.50, 2.57, 1.95, 1.96, 2.86, 2.75, 2.78, 2.99],
    ),
    (
        "Income",
        [4.05, 3.39, 2.94, 3.33, 2.65, 2.68, 3.99, 3.58, 3.80, 3.57],
    ),
    (
        "Religion",
        [1.76, 1.69, 1.95, 1.66, 1.77, 1.30, 2.02, 1.87, 2.09, 1.73],
    ),
    (
        "Average",
        [2.97, 3.03, 2.83, 2.87, 2.55, 1.94, 3.19, 3.06, 3.24, 3.14],
    ),
];

/// Table 16's value of `dimension` (matched ignoring case) for `model`.
pub fn table16(dimension: &str, model: &str) -> Option<f64> {
    let column = TABLE16_MODELS.iter().position(|m| *m == model)?;
    TABLE16
        .iter()
        .find(|(d, _)| d.eq_ignore_ascii_case(dimension))
        .map(|(_, v)| v[column])
}

/// Table 20: the resemble top-k sweep; per k: polar setups 1-3, polar avg, refined setups
/// 1-3, refined avg, overall avg.
pub const TABLE20: [(usize, [f64; 9]); 35] = [
    (
        1,
        [
            70.30, 70.09, 66.76, 69.05, 53.25, 54.77, 51.84, 53.29, 61.17,
        ],
    ),
    (
        2,
        [
            70.54, 70.92, 66.56, 69.34, 52.38, 55.48, 50.98, 52.94, 61.14,
        ],
    ),
    (
        3,
        [
            72.78, 73.06, 69.37, 71.74, 55.43, 57.26, 54.28, 55.66, 63.70,
        ],
    ),
    (
        4,
        [
            72.90, 73.23, 69.23, 71.79, 56.30, 58.15, 55.13, 56.53, 64.16,
        ],
    ),
    (
        5,
        [
            73.63, 74.07, 70.47, 72.72, 57.36, 58.81, 55.98, 57.38, 65.05,
        ],
    ),
    (
        6,
        [
            73.86, 74.11, 70.45, 72.81, 57.27, 58.90, 56.45, 57.54, 65.17,
        ],
    ),
    (
        7,
        [
            74.25, 74.74, 70.95, 73.31, 57.87, 59.45, 56.75, 58.02, 65.67,
        ],
    ),
    (
        8,
        [
            74.18, 74.59, 70.78, 73.19, 58.27, 59.78, 57.13, 58.39, 65.79,
        ],
    ),
    (
        9,
        [
            74.47, 74.82, 71.16, 73.48, 58.33, 59.87, 57.24, 58.48, 65.98,
        ],
    ),
    (
        10,
        [
            74.43, 74.72, 71.20, 73.45, 58.22, 60.24, 57.62, 58.69, 66.07,
        ],
    ),
    (
        11,
        [
            74.46, 74.86, 71.27, 73.53, 58.51, 60.33, 57.59, 58.81, 66.17,
        ],
    ),
    (
        12,
        [
            74.50, 74.82, 71.05, 73.46, 58.73, 60.35, 57.81, 58.96, 66.21,
        ],
    ),
    (
        13,
        [
            74.51, 74.86, 71.35, 73.57, 58.74, 60.58, 58.00, 59.11, 66.34,
        ],
    ),
    (
        14,
        [
            74.37, 74.84, 71.33, 73.51, 58.96, 60.60, 57.95, 59.17, 66.34,
        ],
    ),
    (
        15,
        [
            74.48, 74.76, 71.47, 73.57, 58.92, 60.41, 57.95, 59.09, 66.33,
        ],
    ),
    (
        16,
        [
            74.37, 74.81, 71.35, 73.51, 59.03, 60.63, 57.93, 59.19, 66.35,
        ],
    ),
    (
        17,
        [
            74.54, 74.80, 71.66, 73.67, 59.10, 60.53, 57.94, 59.19, 66.43,
        ],
    ),
    (
        18,
        [
            74.57, 74.72, 71.50, 73.60, 59.08, 60.80, 58.14, 59.34, 66.47,
        ],
    ),
    (
        19,
        [
            74.67, 74.90, 71.62, 73.73, 59.19, 60.64, 58.20, 59.34, 66.53,
        ],
    ),
    (
        20,
        [
            74.62, 74.82, 71.56, 73.67, 59.28, 60.71, 58.23, 59.41, 66.54,
        ],
    ),
    (
        21,
        [
            74.62, 74.94, 71.62, 73.72, 59.32, 60.65, 58.31, 59.43, 66.58,
        ],
    ),
    (
        22,
        [
            74.71, 74.85, 71.53, 73.70, 59.24, 60.74, 58.35, 59.44, 66.57,
        ],
    ),
    (
        23,
        [
            74.68, 74.92, 71.60, 73.73, 59.30, 60.67, 58.22, 59.40, 66.56,
        ],
    ),
    (
        24,
        [
            74.74, 74.87, 71.60, 73.73, 59.32, 60.78, 58.32, 59.47, 66.60,
        ],
    ),
    (
        25,
        [
            74.73, 75.00, 71.72, 73.81, 59.17, 60.67, 58.33, 59.39, 66.60,
        ],
    ),
    (
        26,
        [
            74.73, 74.83, 71.70, 73.76, 58.95, 60.74, 58.16, 59.28, 66.52,
        ],
    ),
    (
        27,
        [
            74.78, 74.98, 71.78, 73.85, 59.04, 60.72, 58.14, 59.30, 66.57,
        ],
    ),
    (
        28,
        [
            74.67, 74.96, 71.69, 73.77, 59.08, 60.69, 58.09, 59.29, 66.53,
        ],
    ),
    (
        29,
        [
            74.74, 74.98, 71.74, 73.82, 59.10, 60.79, 58.04, 59.31, 66.57,
        ],
    ),
    (
        30,
        [
            74.56, 74.94, 71.59, 73.70, 59.18, 60.76, 58.04, 59.33, 66.51,
        ],
    ),
    (
        31,
        [
            74.60, 75.04, 71.67, 73.77, 59.16, 60.73, 58.10, 59.33, 66.55,
        ],
    ),
    (
        32,
        [
            74.57, 75.00, 71.52, 73.70, 59.19, 60.78, 58.04, 59.33, 66.52,
        ],
    ),
    (
        33,
        [
            74.56, 75.00, 71.69, 73.75, 59.23, 60.67, 58.04, 59.32, 66.53,
        ],
    ),
    (
        34,
        [
            74.64, 74.90, 71.68, 73.74, 59.07, 60.64, 57.98, 59.23, 66.49,
        ],
    ),
    (
        35,
        [
            74.74, 74.92, 71.67, 73.78, 59.17, 60.55, 57.97, 59.23, 66.50,
        ],
    ),
];

/// The paper's name of one of our baselines' Table 4 rows (`global`, `top1`, `topK`,
/// `random`).
pub fn baseline_row(name: &str) -> Option<&'static Table4Row> {
    match name {
        "random" => table4_row("Random"),
        "global" => table4_row("Global (majority vote)"),
        "top1" => table4_row("Resemble (top 1)"),
        n if n.starts_with("top") => table4_row("Resemble (top cluster)"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The printed averages are the means of the printed setups (to the paper's rounding), so
    /// a mistyped figure shows.
    #[test]
    fn printed_averages_match_the_printed_setups() {
        for r in &TABLE4 {
            let polar = r.polar.iter().sum::<f64>() / 3.0;
            let refined = r.refined.iter().sum::<f64>() / 3.0;
            assert!((polar - r.polar_avg).abs() < 0.011, "{} polar", r.name);
            assert!(
                (refined - r.refined_avg).abs() < 0.011,
                "{} refined",
                r.name
            );
            assert!(
                ((r.polar_avg + r.refined_avg) / 2.0 - r.all).abs() < 0.011,
                "{}",
                r.name
            );
        }
        for (k, v) in &TABLE20 {
            assert!(
                ((v[0] + v[1] + v[2]) / 3.0 - v[3]).abs() < 0.011,
                "k={k} polar"
            );
            assert!(
                ((v[4] + v[5] + v[6]) / 3.0 - v[7]).abs() < 0.011,
                "k={k} refined"
            );
        }
        for (name, v) in &TABLE15 {
            assert!(((v[0] + v[1] + v[2]) / 3.0 - v[3]).abs() < 0.011, "{name}");
        }
        let n = TABLE16.len() - 1;
        for (c, model) in TABLE16_MODELS.iter().enumerate() {
            let mean = TABLE16[..n].iter().map(|(_, v)| v[c]).sum::<f64>() / n as f64;
            assert!((mean - TABLE16[n].1[c]).abs() < 0.011, "{model}");
        }
        let (q, p, r) = TABLE6
            .iter()
            .fold((0, 0, 0), |(q, p, r), &(_, a, b, d)| (q + a, p + b, r + d));
        assert_eq!(
            (q, p, r),
            (
                table1::QUESTIONS,
                table1::STATEMENTS_POLAR,
                table1::STATEMENTS_REFINED
            )
        );
    }
}
