//! Character-level language models on `text(...)` (issue 16): a text's vocabulary in the run
//! record, a model that learns a periodic text to every position, seeded samples that
//! continue it, and mistakes about vocabularies and shapes as diagnostics.

#![allow(clippy::unwrap_used)] // tests fail loudly by design: an unwrap is an assertion

mod common;

use std::path::Path;

/// A text of `repeats` copies of "hello world\n": 9 distinct characters.
fn periodic(repeats: usize) -> String {
    "hello world\n".repeat(repeats)
}

/// An experiment on `t.txt` in windows of 8, with `model` and extra declarations `rest`.
fn experiment(model: &str, rest: &str) -> String {
    format!(
        "experiment t {{
  seed = 3
}}

data train = text(\"t.txt\", block = 8, stride = 3)
  | split(0.8)
  | shuffle(buffer = 1000)
  | batch(16)

data val = text(\"t.txt\", block = 8, stride = 3)
  | split(0.8, part = right)
  | batch(64)

{model}

loss xent = sparse_categorical_crossentropy(from_logits = true)

optimizer opt = adam(lr = 0.01)

train {{
  model = lm
  data = train
  validate = val
  loss = xent
  optimizer = opt
  epochs = 6
}}

metrics {{
  val_loss = mean(loss) on val
  val_accuracy = sparse_categorical_accuracy(y, logits) on val
}}
{rest}
"
    )
}

const MODEL: &str = "model lm {
  embedding(input_dim = 9, output_dim = 16)
  positional_embedding(max_length = 8)
  conv1d(filters = 32, kernel = 1, activation = relu)
  conv1d(filters = 9, kernel = 1)
}";

/// The one run of experiment `t` under `runs`.
fn only_run(runs: &Path) -> std::path::PathBuf {
    let mut all = std::fs::read_dir(runs.join("t")).unwrap();
    all.next().unwrap().unwrap().path()
}

fn write(dir: &Path, text: &str, exp: &str) {
    std::fs::write(dir.join("t.txt"), text).unwrap();
    std::fs::write(dir.join("t.exp"), exp).unwrap();
}

#[test]
fn a_periodic_text_is_learned_and_sampled_the_same_every_run() {
    let dir = tempfile::tempdir().unwrap();
    let exp = experiment(
        MODEL,
        "after {\n  sample(lm, from = train, prompt = \"hel\", length = 21, top_k = 1, to = \"s.txt\")\n}",
    );
    write(dir.path(), &periodic(200), &exp);
    let mut texts = Vec::new();
    for runs in ["a", "b"] {
        let out = common::expr_in(dir.path(), &["run", "t.exp", "--runs-dir", runs]);
        assert!(out.status.success(), "{}", common::stderr(&out));
        let run = only_run(&dir.path().join(runs));
        let record = std::fs::read_to_string(run.join("run.yaml")).unwrap();
        // The vocabulary, sorted, is the data's class names in the record.
        for c in ["' '", "d", "e", "h", "l", "o", "r", "w"] {
            assert!(record.contains(&format!("- {c}\n")), "{c} in\n{record}");
        }
        let metrics = std::fs::read_to_string(run.join("metrics.csv")).unwrap();
        let column = metrics
            .lines()
            .next()
            .unwrap()
            .split(',')
            .position(|c| c == "val_accuracy")
            .unwrap();
        let last = metrics.lines().last().unwrap();
        let accuracy: f64 = last.split(',').nth(column).unwrap().parse().unwrap();
        // A conv of kernel 1 sees one character: after "l" it cannot tell "l", "o" and
        // "d" apart, and after "o" neither " " nor "r"; every other next character is
        // certain: at least 8 of 12 positions are right (9 with the best guesses, more where
        // the position embedding tells which "l" it is).
        assert!(accuracy > 0.7, "{last}");
        texts.push(std::fs::read_to_string(run.join("s.txt")).unwrap());
        // `expr report` shows the sample as text.
        let report = run.join("r.html");
        let out = common::expr_in(
            dir.path(),
            &[
                "report",
                run.to_str().unwrap(),
                "--out",
                report.to_str().unwrap(),
            ],
        );
        assert!(out.status.success(), "{}", common::stderr(&out));
        let html = std::fs::read_to_string(&report).unwrap();
        let shown = format!(
            "s.txt</figcaption><pre class=\"log\">{}",
            texts.last().unwrap()
        );
        assert!(
            html.contains("<h3>Samples</h3>") && html.contains(&shown),
            "{html}"
        );
    }
    assert_eq!(texts[0], texts[1], "the same seed samples the same text");
    assert!(
        texts[0].starts_with("hel") && texts[0].chars().count() == 24,
        "{:?}",
        texts[0]
    );
}

/// `expr check` on `exp` with `text` as `t.txt`: its exit code and diagnostics.
fn check(text: &str, exp: &str) -> (i32, String) {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), text, exp);
    let out = common::expr_in(dir.path(), &["check", "t.exp"]);
    (out.status.code().unwrap(), common::stderr(&out))
}

#[test]
fn vocabularies_and_shapes_that_do_not_fit_are_diagnostics() {
    let text = periodic(20);
    let cases = [
        (
            MODEL.replace("input_dim = 9", "input_dim = 5"),
            "",
            "data `train` has a vocabulary of 9 tokens, but `embedding` of model `lm` has rows for 5",
        ),
        (
            MODEL.replace("filters = 9", "filters = 7"),
            "",
            "the data has a class of 9 at each of 8 positions, so the model must output [9, 8]",
        ),
        (
            MODEL.replace("max_length = 8", "max_length = 6"),
            "",
            "the sequence has 8 positions, but `positional_embedding` learns 6",
        ),
        (
            MODEL.to_string(),
            "data other = mnist() | batch(2)\non epoch_end {\n  sample(lm, from = other)\n}",
            "`sample` reads the vocabulary of a `text(...)` data set, and `other` is not one",
        ),
    ];
    for (model, rest, want) in cases {
        let (code, err) = check(&text, &experiment(&model, rest));
        assert_eq!(code, 2, "{err}");
        assert!(err.contains(want), "{want}\n{err}");
    }
    let (code, err) = check(&text, &experiment(MODEL, ""));
    assert_eq!(code, 0, "{err}");
}

#[test]
fn bad_texts_and_prompts_say_what_and_where() {
    let (code, err) = check("hello", &experiment(MODEL, ""));
    assert_eq!(code, 2);
    assert!(
        err.contains("has 5 characters, but an example of `block = 8` needs 9"),
        "{err}"
    );
    let (code, err) = check(
        &(periodic(20) + "\u{e9}"),
        &experiment(
            MODEL
                .replace("input_dim = 9", "input_dim = 10")
                .replace("filters = 9", "filters = 10")
                .as_str(),
            "",
        ),
    );
    assert_eq!(code, 0, "UTF-8 is read: {err}");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("t.txt"), b"hello\xffworld hello world").unwrap();
    std::fs::write(dir.path().join("t.exp"), experiment(MODEL, "")).unwrap();
    let err = common::stderr(&common::expr_in(dir.path(), &["check", "t.exp"]));
    assert!(
        err.contains("t.txt") && err.contains("line 1 (byte 5)") && err.contains("not UTF-8"),
        "{err}"
    );
    // A prompt outside the vocabulary stops the run before anything trains.
    let dir = tempfile::tempdir().unwrap();
    let exp = experiment(
        MODEL,
        "after {\n  sample(lm, from = train, prompt = \"xyz\")\n}",
    );
    write(dir.path(), &periodic(20), &exp);
    let out = common::expr_in(dir.path(), &["run", "t.exp", "--runs-dir", "runs"]);
    let err = common::stderr(&out);
    assert!(
        !out.status.success() && err.contains("the prompt's character 'x'"),
        "{err}"
    );
    assert!(
        !dir.path().join("runs").exists(),
        "nothing is created before the data is read"
    );
}

/// `tokens = bytes`: a token per byte of a text with two-byte characters (11 distinct
/// bytes), learned and sampled; the sample reads the bytes back as UTF-8.
#[test]
fn byte_tokens_are_learned_and_sampled_as_utf8() {
    let dir = tempfile::tempdir().unwrap();
    let model = MODEL
        .replace("input_dim = 9", "input_dim = 11")
        .replace("filters = 9", "filters = 11");
    let exp = experiment(
        &model,
        "after {\n  sample(lm, from = train, prompt = \"hé\", length = 30, top_k = 1, to = \"s.txt\")\n}",
    )
    .replace("block = 8, stride = 3)", "block = 8, stride = 3, tokens = bytes)");
    write(dir.path(), &"héllo wörld\n".repeat(200), &exp);
    let out = common::expr_in(dir.path(), &["run", "t.exp", "--runs-dir", "runs"]);
    assert!(out.status.success(), "{}", common::stderr(&out));
    let run = only_run(&dir.path().join("runs"));
    let record = std::fs::read_to_string(run.join("run.yaml")).unwrap();
    // Byte 0xc3, which starts both two-byte characters, is held as `Ã`.
    assert!(
        record.contains("bytes: true") && record.contains("- Ã\n"),
        "{record}"
    );
    let sample = std::fs::read_to_string(run.join("s.txt")).unwrap();
    let generated = sample.strip_prefix("hé").unwrap();
    // Characters of the text, two-byte ones among them: the bytes read back as UTF-8.
    assert!(
        generated.chars().all(|c| "helo wrdéö\n".contains(c)) && generated.contains(['é', 'ö']),
        "{sample:?}"
    );
}
