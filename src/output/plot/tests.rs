use super::*;

/// Decodes an RGB PNG, checking its format.
fn decode_rgb(path: &Path) -> (u32, u32, Vec<u8>) {
    let decoder = png::Decoder::new(std::fs::File::open(path).unwrap());
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!(info.color_type, png::ColorType::Rgb);
    buf.truncate(info.buffer_size());
    (info.width, info.height, buf)
}

/// Pixels of exactly `colour` in rows `rows`.
fn count(pixels: &[u8], colour: RGBColor, rows: Range<usize>) -> usize {
    let width = PLOT_WIDTH as usize;
    pixels
        .chunks_exact(3)
        .enumerate()
        .filter(|(i, p)| rows.contains(&(i / width)) && *p == [colour.0, colour.1, colour.2])
        .count()
}

/// Dark pixels (text, axes) in rows `rows`.
fn dark(pixels: &[u8], rows: Range<usize>) -> usize {
    let width = PLOT_WIDTH as usize;
    pixels
        .chunks_exact(3)
        .enumerate()
        .filter(|(i, p)| rows.contains(&(i / width)) && p.iter().all(|&c| c < 100))
        .count()
}

fn render(series: &[Series]) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("plot.png");
    plot_series(&path, "loss per epoch", "loss", series).unwrap();
    let (width, height, pixels) = decode_rgb(&path);
    assert_eq!((width, height), (PLOT_WIDTH, PLOT_HEIGHT));
    // Only the plot remains: no temporary file.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    pixels
}

#[test]
fn five_epochs_four_series_draw_four_colours_and_a_title() {
    let a = [2.3, 1.1, 0.7, 0.5, 0.4];
    let b = [2.4, 1.3, 0.9, 0.8, 0.8];
    let c = [0.1, 0.6, 0.8, 0.9, 0.95];
    let d = [0.1, 0.5, 0.7, 0.8, 0.85];
    let series = [
        Series {
            name: "train loss",
            values: &a,
        },
        Series {
            name: "val loss",
            values: &b,
        },
        Series {
            name: "train acc",
            values: &c,
        },
        Series {
            name: "val acc",
            values: &d,
        },
    ];
    let pixels = render(&series);
    let all = 0..PLOT_HEIGHT as usize;
    for colour in &PALETTE[..4] {
        // Lines across the chart are hundreds of pixels each.
        assert!(
            count(&pixels, *colour, all.clone()) > 300,
            "{colour:?} missing"
        );
    }
    assert_eq!(
        count(&pixels, PALETTE[4], all),
        0,
        "a fifth colour was drawn"
    );
    // The caption is text in the top band, which is otherwise white.
    assert!(dark(&pixels, 0..45) > 200, "no title text");
}

#[test]
fn one_epoch_draws_markers() {
    let series = [
        Series {
            name: "loss",
            values: &[0.9],
        },
        Series {
            name: "val_loss",
            values: &[1.2],
        },
    ];
    let pixels = render(&series);
    for colour in &PALETTE[..2] {
        // A radius-4 filled circle plus the legend swatch.
        assert!(
            count(&pixels, *colour, 0..PLOT_HEIGHT as usize) > 40,
            "{colour:?} missing"
        );
    }
}

#[test]
fn non_finite_values_are_skipped_without_panicking() {
    let broken = [1.0, f64::NAN, 0.5, f64::INFINITY, f64::NEG_INFINITY, 0.25];
    let all_nan = [f64::NAN; 6];
    let series = [
        Series {
            name: "diverged",
            values: &broken,
        },
        Series {
            name: "nothing",
            values: &all_nan,
        },
    ];
    let pixels = render(&series);
    assert!(count(&pixels, PALETTE[0], 0..PLOT_HEIGHT as usize) > 30);
    render(&[Series {
        name: "nothing",
        values: &all_nan,
    }]);
    render(&[]);
    render(&[Series {
        name: "huge",
        values: &[f64::MAX, -f64::MAX, 0.0],
    }]);
}

#[test]
fn missing_directory_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("absent").join("plot.png");
    let err = plot_series(
        &path,
        "t",
        "y",
        &[Series {
            name: "a",
            values: &[1.0],
        }],
    )
    .unwrap_err();
    assert!(
        matches!(err, OutputError::MissingDirectory { .. }),
        "{err:?}"
    );
}

#[test]
fn y_range_has_a_margin_and_handles_flat_and_empty_histories() {
    let (lo, hi) = y_range(&[Series {
        name: "a",
        values: &[1.0, 2.0, f64::NAN],
    }]);
    assert!(
        (lo - 0.94).abs() < 1e-12 && (hi - 2.06).abs() < 1e-12,
        "{lo} {hi}"
    );
    let (lo, hi) = y_range(&[Series {
        name: "a",
        values: &[3.0, 3.0],
    }]);
    assert!(lo < 3.0 && hi > 3.0, "{lo} {hi}");
    assert_eq!(
        y_range(&[Series {
            name: "a",
            values: &[0.0]
        }]),
        (-0.5, 0.5)
    );
    assert_eq!(
        y_range(&[Series {
            name: "a",
            values: &[f64::NAN]
        }]),
        (0.0, 1.0)
    );
    assert_eq!(y_range(&[]), (0.0, 1.0));
}

#[test]
fn epoch_ticks_are_integers_and_few() {
    assert_eq!(epoch_ticks(1), vec![1.0]);
    assert_eq!(epoch_ticks(5), vec![1.0, 2.0, 3.0, 4.0, 5.0]);
    assert_eq!(epoch_ticks(12), vec![2.0, 4.0, 6.0, 8.0, 10.0, 12.0]);
    let hundred = epoch_ticks(100);
    assert_eq!(hundred.first(), Some(&1.0));
    assert_eq!(
        hundred[1..],
        [10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 70.0, 80.0, 90.0, 100.0]
    );
    for epochs in 1..2000 {
        let ticks = epoch_ticks(epochs);
        assert!(
            !ticks.is_empty() && ticks.len() <= 12,
            "{epochs}: {ticks:?}"
        );
        assert!(ticks.iter().all(|t| t.fract() == 0.0 && *t >= 1.0));
        #[allow(clippy::cast_precision_loss)]
        let last = epochs as f64;
        assert!(ticks.iter().all(|t| *t <= last));
    }
}

#[test]
fn finite_runs_split_at_gaps() {
    let runs = finite_runs(&[1.0, 2.0, f64::NAN, 3.0, f64::INFINITY]);
    assert_eq!(runs, vec![vec![(1.0, 1.0), (2.0, 2.0)], vec![(4.0, 3.0)]]);
}

#[test]
fn tick_labels_use_enough_decimals() {
    assert_eq!(format_tick(0.25, decimals_for(1.0)), "0.25");
    assert_eq!(format_tick(2.0, decimals_for(20.0)), "2");
    assert_eq!(format_tick(1.5e-9, decimals_for(1e-8)), "1.50e-9");
    assert_eq!(format_tick(2.0e7, decimals_for(1e7)), "2.00e7");
}

/// Writes sample plots for looking at: `EXPR_PLOT_DIR=/tmp cargo test -- --ignored sample`.
#[test]
#[ignore = "writes files for a person to look at"]
fn sample_plots() {
    let dir = std::path::PathBuf::from(std::env::var("EXPR_PLOT_DIR").unwrap());
    let a = [2.3, 1.1, 0.7, 0.5, 0.4];
    let b = [2.4, 1.3, 0.9, f64::NAN, 0.8];
    let c = [0.1, 0.6, 0.8, 0.9, 0.95];
    let d = [0.1, 0.5, 0.7, 0.8, 0.85];
    let series = [
        Series {
            name: "train loss",
            values: &a,
        },
        Series {
            name: "val loss",
            values: &b,
        },
        Series {
            name: "train acc",
            values: &c,
        },
        Series {
            name: "val acc",
            values: &d,
        },
    ];
    plot_series(
        &dir.join("sample_5.png"),
        "metrics per epoch",
        "value",
        &series,
    )
    .unwrap();
    let one = [
        Series {
            name: "loss",
            values: &[0.9],
        },
        Series {
            name: "val_loss",
            values: &[1.2],
        },
    ];
    plot_series(&dir.join("sample_1.png"), "one epoch", "loss", &one).unwrap();
    #[allow(clippy::cast_precision_loss)]
    let long: Vec<f64> = (1..=100).map(|e| 1.0 / e as f64).collect();
    plot_series(
        &dir.join("sample_100.png"),
        "long run",
        "loss",
        &[Series {
            name: "loss",
            values: &long,
        }],
    )
    .unwrap();
}
