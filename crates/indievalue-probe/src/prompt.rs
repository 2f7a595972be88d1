//! The paper's prompts, rendered from a task and the catalog: the probing prompt of Appendix B.1
//! (all probe groups at once, a JSON answer) and the training prompt of Appendix C.1 (one
//! question, `Option i:` lines, answer `Option k: statement`).

use crate::{Error, Result};
use indievalue_catalog::{Catalog, Granularity};
use indievalue_sampling::{Probe, ProbeTask};

/// A statement as prompts show it: first letter upper-cased.
pub fn display_statement(statement: &str) -> String {
    let mut chars = statement.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// The key of probe group `i` (1-based) in the JSON answer: `NSG{i}`.
pub fn group_key(i: usize) -> String {
    format!("NSG{i}")
}

/// The key of statement `j` (1-based) of group `i`: `NSG{i}_s{j}`.
pub fn option_key(i: usize, j: usize) -> String {
    format!("NSG{i}_s{j}")
}

/// Renders prompts for tasks of one catalog.
///
/// ```
/// use indievalue_probe::display_statement;
/// assert_eq!(display_statement("friends are important in my life"), "Friends are important in my life");
/// ```
pub struct PromptBuilder<'a> {
    catalog: &'a Catalog,
}

const PROBING_INTRO: &str = "You are an assistant helping researchers analyze an individual's value system. You will be provided with a list of statements that reflect a person's values and preferences. Your task is to interpret these statements to understand the person's underlying value system and use this understanding to predict their likely responses to additional statements.

Instructions:

1. Review Known Statements: You will first receive a list of known statements from Person A. These statements illustrate Person A's values and preferences. Examples of such statements include:

- # I somewhat trust people I meet for the first time.
- # I disagree that work is a duty towards society.
- # I disagree that adult children have the duty to provide long-term care for their parents.
- # It's especially important to encourage children to learn a sense of responsibility at home.

This is the format of known statements that you will see:

[Known Statements of Person A]:

```
# known statement 1
# known statement 2
# known statement 3
...
```

2. Analyze and Predict: After reviewing the known statements, you will be presented with several groups of new statements. For each group, your task is to select the one statement that you believe Person A is most likely to agree with or express. Only one statement should be selected per group.

This is the format of new statement groups that you will see:

[New Groups of Statements]:

```
{ \"new statement group 1 (NSG1)\": [
  { \"NSG1_s1\": \"statement 1 in NSG1\" },
  { \"NSG1_s2\": \"statement 2 in NSG1\" },
  { \"NSG1_s3\": \"statement 3 in NSG1\" },
  ... ],
  \"new statement group 2 (NSG2)\": [
    { \"NSG2_s1\": \"statement 1 in NSG2\" },
    { \"NSG2_s2\": \"statement 2 in NSG2\" },
    { \"NSG2_s3\": \"statement 3 in NSG2\" },
    ... ],
  ... }
```

3. Format Your Response: Please provide your response in the following format:

[Your Response]:

```
{ \"NSG1\": {
  \"rationale\": \"reason of why you choose NSG1_s2\",
  \"choice\": \"NSG1_s2\" },
  \"NSG2\": {
    \"rationale\": \"reason of why you choose NSG2_s1\",
    \"choice\": \"NSG2_s1\" },
  ... }
```

Now, let's begin the task! Make sure to follow the format requirement. Only reply with the dictionary; do not include any other text; use double quotes for all string values.

[Known Statements of Person A]:

```
";

const STATEMENT_LIST_INTRO: &str =
    "Here is a list of statements from Person A, illustrating Person A’s values and preferences.

[Known statements]:

```
";

const TRAINING_INTRO: &str = "You will first receive a list of known statements from Person A, illustrating Person A’s values and preferences. You will then be presented with a group of new statements. Your task is to select the one statement you believe Person A is most likely to agree with or express.

[Known statements]:

```
";

impl<'a> PromptBuilder<'a> {
    /// Prompts for tasks of `catalog`.
    pub fn new(catalog: &'a Catalog) -> PromptBuilder<'a> {
        PromptBuilder { catalog }
    }

    fn statements(&self, question: &str, granularity: Granularity) -> Result<&'a [String]> {
        let q = self
            .catalog
            .question(question)
            .ok_or_else(|| Error::Task(format!("question {question} is not in the catalog")))?;
        Ok(q.statements(granularity).statements())
    }

    /// The statements of probe `probe`, display form.
    pub fn probe_options(&self, task: &ProbeTask, probe: &Probe) -> Result<Vec<String>> {
        let statements = self.statements(&probe.question, task.probe_granularity)?;
        if statements.len() != usize::from(probe.options) {
            return Err(Error::Task(format!(
                "question {} has {} statements, the task says {}",
                probe.question,
                statements.len(),
                probe.options
            )));
        }
        Ok(statements.iter().map(|s| display_statement(s)).collect())
    }

    /// The known statements, one `# Statement` line each: the demographic statements first
    /// (when the task has them), then the demonstrations in sampled order.
    pub fn known_statements(&self, task: &ProbeTask) -> Result<String> {
        let mut lines = Vec::with_capacity(task.demographics.len() + task.demonstrations.len());
        for d in &task.demographics {
            let item = self.catalog.demographic(&d.item).ok_or_else(|| {
                Error::Task(format!("demographic item {} is not in the catalog", d.item))
            })?;
            let option = item.options().get(usize::from(d.option)).ok_or_else(|| {
                Error::Task(format!("demographic {} has no option {}", d.item, d.option))
            })?;
            lines.push(format!("# {}", display_statement(&option.statement)));
        }
        for demo in &task.demonstrations {
            let statements = self.statements(&demo.question, task.demo_granularity)?;
            let s = statements.get(usize::from(demo.statement)).ok_or_else(|| {
                Error::Task(format!(
                    "question {} has no statement {}",
                    demo.question, demo.statement
                ))
            })?;
            lines.push(format!("# {}", display_statement(s)));
        }
        Ok(lines.join("\n"))
    }

    /// The probing prompt of Appendix B.1 (the user message): instructions, the known
    /// statements, and every probe of the task as a JSON group `new statement group i (NSGi)`.
    pub fn probing_prompt(&self, task: &ProbeTask) -> Result<String> {
        let mut groups = String::from("{\n");
        for (i, probe) in task.probes.iter().enumerate() {
            let options = self.probe_options(task, probe)?;
            groups.push_str(&format!(
                "  \"new statement group {n} (NSG{n})\": [\n",
                n = i + 1
            ));
            for (j, s) in options.iter().enumerate() {
                let comma = if j + 1 < options.len() { "," } else { "" };
                groups.push_str(&format!(
                    "    {{ \"{}\": {} }}{comma}\n",
                    option_key(i + 1, j + 1),
                    json_string(s)
                ));
            }
            let comma = if i + 1 < task.probes.len() { "," } else { "" };
            groups.push_str(&format!("  ]{comma}\n"));
        }
        groups.push('}');
        Ok(format!(
            "{PROBING_INTRO}{}\n```\n\n[New Groups of Statements]:\n\n```\n{groups}\n```\n\n[Your Response]:",
            self.known_statements(task)?
        ))
    }

    /// The training prompt of Appendix C.1 for one probe (the user message): the known
    /// statements and the probe's `Option i: statement` lines.
    pub fn question_prompt(&self, task: &ProbeTask, probe: &Probe) -> Result<String> {
        let known = self.known_statements(task)?;
        self.question_prompt_with(&known, task, probe)
    }

    /// [`PromptBuilder::question_prompt`] with the known statements already rendered.
    pub fn question_prompt_with(
        &self,
        known: &str,
        task: &ProbeTask,
        probe: &Probe,
    ) -> Result<String> {
        let options = self.probe_options(task, probe)?;
        let lines: Vec<String> = options
            .iter()
            .enumerate()
            .map(|(j, s)| option_answer(j, s))
            .collect();
        Ok(format!(
            "{TRAINING_INTRO}{known}\n```\n\n[New statements options]:\n\n```\n{}\n```\n\n[Person A most likely agrees with]:",
            lines.join("\n")
        ))
    }

    /// The head of the statement-list prompt scored by [`crate::ScoreTarget::Statement`]: a short
    /// instruction, the known statements, and the `# ` that opens one more line of the list (the
    /// option's statement is scored as that line).
    pub fn statement_list_head(known: &str) -> String {
        let known = if known.is_empty() {
            String::new()
        } else {
            format!("{known}\n")
        };
        format!("{STATEMENT_LIST_INTRO}{known}# ")
    }

    /// The answer of the training prompt: `Option k: statement` (`k` 1-based from the 0-based
    /// `choice`).
    pub fn question_answer(&self, task: &ProbeTask, probe: &Probe, choice: u8) -> Result<String> {
        let options = self.probe_options(task, probe)?;
        let s = options.get(usize::from(choice)).ok_or_else(|| {
            Error::Task(format!(
                "question {} has no statement {choice}",
                probe.question
            ))
        })?;
        Ok(option_answer(usize::from(choice), s))
    }
}

impl PromptBuilder<'_> {
    /// A training example as the C.1 conversation the trainer sees: the C.1 prompt of its
    /// probe as the user turn (the very text [`crate::ScoringPredictor`] scores), and
    /// `Option k: statement` of the gold statement as the assistant turn.
    pub fn training_messages(
        &self,
        record: &indievalue_sampling::TrainingRecord,
    ) -> Result<Vec<indievalue_llm::ChatMessage>> {
        let task = record.as_task();
        self.probe_messages(&task, &task.probes[0])
    }

    /// The C.1 conversation of one probe of a task: its C.1 prompt as the user turn and
    /// `Option k: statement` of the probe's gold statement as the assistant turn. Any task
    /// (a consistency set's, say) becomes training examples this way, one per probe.
    pub fn probe_messages(
        &self,
        task: &ProbeTask,
        probe: &Probe,
    ) -> Result<Vec<indievalue_llm::ChatMessage>> {
        let user = self.question_prompt(task, probe)?;
        let answer = self.question_answer(task, probe, probe.gold)?;
        Ok(vec![
            indievalue_llm::ChatMessage::user(user),
            indievalue_llm::ChatMessage::assistant(answer),
        ])
    }
}

/// The label of option `index` (0-based) in the C.1 format: `Option k`, `k` 1-based.
///
/// ```
/// assert_eq!(indievalue_probe::option_label(0), "Option 1");
/// ```
pub fn option_label(index: usize) -> String {
    format!("Option {}", index + 1)
}

/// The C.1 answer (and option line) of option `index` (0-based): `Option k: statement`. The one
/// rendering the prompt's option list, the scorer and training examples share.
///
/// ```
/// assert_eq!(indievalue_probe::option_answer(1, "I vote"), "Option 2: I vote");
/// ```
pub fn option_answer(index: usize, statement: &str) -> String {
    format!("{}: {statement}", option_label(index))
}

/// A JSON string literal (quotes and escapes as `serde_json` writes them).
fn json_string(s: &str) -> String {
    serde_json::Value::String(s.to_owned()).to_string()
}
