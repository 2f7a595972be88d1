//! Test helpers: the fake OpenAI-compatible server of `indievalue-testdata`, hand-made probe
//! tasks, files of a directory.

#![allow(dead_code)]

use indievalue_catalog::{Catalog, Granularity};
use indievalue_sampling::{DemoMode, Demonstration, Probe, ProbeTask};
pub use indievalue_testdata::fake_openai::{FakeServer, Fault};

/// Four people's tasks over the mini catalog: ten polar demonstrations, three polar probes.
pub fn tasks(catalog: &Catalog) -> Vec<ProbeTask> {
    let q = catalog.questions();
    (0..4)
        .map(|person| ProbeTask {
            person: 100 + person as i64,
            setup: 0,
            probe_granularity: Granularity::Polar,
            demo_granularity: Granularity::Polar,
            demo_mode: DemoMode::Fixed(10),
            demographics: Vec::new(),
            demonstrations: (0..10)
                .map(|i| {
                    let question = &q[(person * 7 + i) % 40];
                    Demonstration {
                        question: question.id().as_str().to_owned(),
                        statement: ((person + i) % question.statements(Granularity::Polar).len())
                            as u8,
                    }
                })
                .collect(),
            probes: q[50..53]
                .iter()
                .map(|question| Probe {
                    question: question.id().as_str().to_owned(),
                    options: question.statements(Granularity::Polar).len() as u8,
                    gold: (person % 2) as u8,
                })
                .collect(),
        })
        .collect()
}

/// Every file under `dir`, recursively.
pub fn files_under(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else {
            out.push(path);
        }
    }
    out
}
