use super::*;

/// A second writer (a resumed run) writes what the first did not, once.
#[test]
fn a_second_writer_adds_only_what_the_first_did_not_write() {
    let dir = tempfile::tempdir().unwrap();
    let mut first = EventsWriter::open(dir.path()).unwrap();
    first.scalar("loss", 1, 0.5).unwrap();
    first.scalar("loss", 2, 0.25).unwrap();
    first.scalar("loss", 2, 0.25).unwrap();
    drop(first);
    let mut second = EventsWriter::open(dir.path()).unwrap();
    assert_ne!(second.path(), dir.path().join(DIR));
    second.scalar("loss", 2, 0.25).unwrap();
    second.scalar("loss", 3, 0.125).unwrap();
    second.text("experiment", 0, "model net {}").unwrap();
    let events = read_dir(&dir.path().join(DIR)).unwrap();
    assert_eq!(
        scalars(&events),
        vec![
            ("loss".into(), 1, 0.5),
            ("loss".into(), 2, 0.25),
            ("loss".into(), 3, 0.125)
        ]
    );
    let versions = events
        .iter()
        .filter(|e| matches!(&e.what, Some(What::FileVersion(v)) if v == "brain.Event:2"))
        .count();
    assert_eq!(versions, 2, "each file starts with its version");
}

/// A PNG goes in with its size and colour type.
#[test]
fn images_carry_their_size_and_colour_space() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("g.png");
    let pixels = [0, 255, 128, 64, 32, 16];
    crate::output::encode::write_png(
        &file,
        &pixels,
        3,
        2,
        crate::output::encode::PixelFormat::Grey,
    )
    .unwrap();
    let png = std::fs::read(&file).unwrap();
    let mut w = EventsWriter::open(dir.path()).unwrap();
    w.png("grid", 4, &png).unwrap();
    let events = read_dir(&dir.path().join(DIR)).unwrap();
    let Some(What::Summary(s)) = &events[1].what else {
        panic!("{events:?}")
    };
    let Some(Kind::Image(image)) = &s.value[0].kind else {
        panic!("{s:?}")
    };
    assert_eq!((image.width, image.height, image.colorspace), (3, 2, 1));
    assert_eq!(image.encoded_image_string, png);
    assert_eq!(events[1].step, 4);
    assert!(w.png("bad", 1, b"not a png").is_err());
}
