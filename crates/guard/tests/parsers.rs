//! The reply parsers read bytes from outside: on any input they return a verdict or an
//! error, never panic, and a well-formed reply survives any surrounding noise.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use hegui_guard::{llamaguard, openai_moderation, qwen3guard, shieldlm, Safety, Thresholds};
use proptest::prelude::*;

proptest! {
    #[test]
    fn parsers_never_panic(s in any::<String>()) {
        let _ = qwen3guard::parse(&s);
        let _ = llamaguard::parse(&s);
        let _ = shieldlm::parse(&s);
        let _ = openai_moderation::parse(&s, &Thresholds::default());
    }

    #[test]
    fn parsers_never_panic_on_near_misses(
        prefix in "(Safety|Categories|Refusal|\\[Answer\\]|\\[答案\\]|unsafe|safe)[: ]{0,2}",
        rest in "\\PC{0,40}",
    ) {
        let s = format!("{prefix}{rest}");
        let _ = qwen3guard::parse(&s);
        let _ = llamaguard::parse(&s);
        let _ = shieldlm::parse(&s);
    }

    #[test]
    fn qwen_labels_survive_any_category_text(cats in "[A-Za-z &-]{1,30}(, [A-Za-z &-]{1,30}){0,3}") {
        let p = qwen3guard::parse(&format!("Safety: Unsafe\nCategories: {cats}")).unwrap();
        prop_assert_eq!(p.safety, Safety::Unsafe);
        for c in &p.categories {
            prop_assert!(cats.contains(c.as_str()));
        }
    }

    #[test]
    fn shieldlm_label_is_found_after_any_preamble(pre in "[^\\[]{0,40}") {
        let p = shieldlm::parse(&format!("{pre}[答案] 不安全\n[分析] ...")).unwrap();
        prop_assert_eq!(p.safety, Safety::Unsafe);
    }
}
