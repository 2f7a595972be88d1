//! Training and evaluation see the same C.1 text: the conversation a training example becomes
//! (`PromptBuilder::training_messages`), rendered by the chat template, starts with exactly the
//! text the scorer scores for the gold option.

use indievalue_catalog::Catalog;
use indievalue_llm::{ChatMessage, ChatTemplate};
use indievalue_probe::{PromptBuilder, ScoreTarget, scored_texts};
use indievalue_sampling::{AnswerMatrix, TrainingRecipe, build_training_set};
use indievalue_synth::{SynthConfig, SyntheticModel};

#[test]
fn the_training_conversation_is_the_scored_c1_prompt() {
    let catalog = Catalog::load(indievalue_testdata::mini_catalog_dir()).unwrap();
    let config = SynthConfig {
        people: 60,
        seed: 2,
        ..Default::default()
    };
    let people = SyntheticModel::new(&catalog, &config)
        .unwrap()
        .respondents(&catalog)
        .unwrap();
    let answers = AnswerMatrix::new(&people);
    let pool: Vec<usize> = (0..people.len()).collect();
    let recipe = TrainingRecipe::parse("p+r", "mixed+200", 2).unwrap();
    let examples = build_training_set(&catalog, &people, &answers, &pool, &recipe, 3).unwrap();
    let prompts = PromptBuilder::new(&catalog);
    let template = ChatTemplate::llama3_fallback();
    let mut checked = 0;
    for e in examples.iter().take(20) {
        let record = e.record(&catalog, &people, recipe.demographics);
        let messages = prompts.training_messages(&record).unwrap();
        assert_eq!(messages[0].role, "user");
        let trained = template.render(&messages, false).unwrap();
        let scored = &scored_texts(&prompts, &template, ScoreTarget::Answer, &record.as_task())
            .unwrap()[0][usize::from(record.gold)];
        assert!(
            trained.starts_with(scored.as_str()),
            "{trained}\n---\n{scored}"
        );
        assert_eq!(
            &trained[scored.len()..],
            "<|eot_id|>",
            "only the end of turn follows"
        );
        let prompt_only = template
            .render(&[ChatMessage::user(messages[0].content.clone())], true)
            .unwrap();
        let label = &scored_texts(&prompts, &template, ScoreTarget::Label, &record.as_task())
            .unwrap()[0][0];
        assert_eq!(format!("{prompt_only}Option 1"), *label);
        checked += 1;
    }
    assert_eq!(checked, 20);
}
