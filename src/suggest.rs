//! "Did you mean ...?": the known name closest to a likely typo. The parser suggests keywords
//! with it and `check` suggests names and parameters, so it belongs to neither stage.

/// The closest known name, if it is close enough to be a likely typo.
pub fn did_you_mean<'a>(name: &str, known: &[&'a str]) -> Option<&'a str> {
    known
        .iter()
        .map(|k| (strsim::jaro_winkler(name, k), *k))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, k)| k)
}

#[cfg(test)]
mod tests {
    use super::did_you_mean;

    #[test]
    fn a_typo_gets_the_closest_name() {
        assert_eq!(
            did_you_mean("modle", &["model", "data", "train"]),
            Some("model")
        );
        assert_eq!(did_you_mean("dens", &["dense", "dropout"]), Some("dense"));
    }

    #[test]
    fn an_unrelated_word_gets_nothing() {
        assert_eq!(did_you_mean("xyz", &["model", "data", "train"]), None);
        assert_eq!(did_you_mean("model", &[]), None);
    }
}
