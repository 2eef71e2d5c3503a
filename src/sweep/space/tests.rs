use super::*;

fn values(points: &[Vec<Override>]) -> Vec<String> {
    points
        .iter()
        .map(|p| {
            p.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect()
}

#[test]
fn grid_values_split_at_top_level_commas_and_ranges_expand() {
    let axis = parse_grid("net.conv2d.kernel=(3, 3), 5 ,\"a,b\"").unwrap();
    assert_eq!(axis.path, "net.conv2d.kernel");
    assert_eq!(axis.values, ["(3, 3)", "5", "\"a,b\""]);
    let seeds = parse_grid("experiment.seed=1..3,7").unwrap();
    assert_eq!(seeds.values, ["1", "2", "3", "7"]);
    let negative = parse_grid("x.y=-2..0").unwrap();
    assert_eq!(negative.values, ["-2", "-1", "0"]);
}

#[test]
fn the_first_grid_varies_slowest() {
    let space = Space {
        grid: vec![
            parse_grid("opt.lr=1e-3,3e-4").unwrap(),
            parse_grid("experiment.seed=1..3").unwrap(),
        ],
        ..Space::default()
    };
    let points = space.points(&[]).unwrap();
    assert_eq!(
        values(&points),
        [
            "opt.lr=1e-3 experiment.seed=1",
            "opt.lr=1e-3 experiment.seed=2",
            "opt.lr=1e-3 experiment.seed=3",
            "opt.lr=3e-4 experiment.seed=1",
            "opt.lr=3e-4 experiment.seed=2",
            "opt.lr=3e-4 experiment.seed=3",
        ]
    );
}

#[test]
fn bad_grids_are_refused_with_a_label_on_the_value() {
    let empty = parse_grid("opt.lr=1e-3,,3e-4").unwrap_err();
    assert!(
        matches!(empty.error, SpaceError::EmptyValue { span } if span.start == 12),
        "{empty:?}"
    );
    let backwards = parse_grid("experiment.seed=5..1").unwrap_err();
    assert!(
        matches!(backwards.error, SpaceError::Range { .. }),
        "{backwards:?}"
    );
    let huge = parse_grid("experiment.seed=1..100000").unwrap_err();
    assert!(matches!(huge.error, SpaceError::TooMany { .. }), "{huge:?}");
    let form = parse_grid("opt.lr").unwrap_err();
    assert!(matches!(form.error, SpaceError::Form { .. }), "{form:?}");
    let text = backwards.render(false);
    assert!(text.contains("--grid") && text.contains("5..1"), "{text}");
}

#[test]
fn uniform_draws_are_seeded_within_bounds_and_on_their_scale() {
    let space = |seed| Space {
        draws: 200,
        uniform: vec![
            parse_uniform("opt.lr=1e-4:1e-2:log").unwrap(),
            parse_uniform("train.batch=16:19:int").unwrap(),
            parse_uniform("net.dropout.rate=0.1:0.5").unwrap(),
        ],
        seed,
        ..Space::default()
    };
    let a = space(3).points(&[]).unwrap();
    assert_eq!(values(&a), values(&space(3).points(&[]).unwrap()));
    assert_ne!(values(&a), values(&space(4).points(&[]).unwrap()));
    let column = |i: usize| -> Vec<f64> { a.iter().map(|p| p[i].value.parse().unwrap()).collect() };
    let lr = column(0);
    assert!(lr.iter().all(|v| (1e-4..=1e-2).contains(v)));
    // Log-uniform: about half the draws below the geometric middle, 1e-3.
    let below = lr.iter().filter(|v| **v < 1e-3).count();
    assert!((70..=130).contains(&below), "{below} of 200 below 1e-3");
    let batch = column(1);
    for b in [16.0, 17.0, 18.0, 19.0] {
        assert!(batch.contains(&b), "{b} never drawn");
    }
    assert!(batch
        .iter()
        .all(|v| (16.0..=19.0).contains(v) && v.fract() == 0.0));
    assert!(column(2).iter().all(|v| (0.1..=0.5).contains(v)));
    assert_eq!(
        a[0][0].value.len(),
        "1.234e-3".len(),
        "four digits: {}",
        a[0][0].value
    );
}

#[test]
fn draws_combine_with_every_grid_value() {
    let space = Space {
        grid: vec![parse_grid("experiment.seed=1,2").unwrap()],
        draws: 3,
        uniform: vec![parse_uniform("opt.lr=0:1").unwrap()],
        seed: 0,
    };
    let points = space.points(&[]).unwrap();
    assert_eq!(points.len(), 6);
    assert_eq!(points[0][1], points[3][1], "the same draws for each seed");
}

#[test]
fn bad_ranges_and_spaces_are_refused() {
    for (arg, want) in [
        ("opt.lr=1e-2:1e-4", "LOW must be below HIGH"),
        ("opt.lr=0:1e-2:log", "above 0"),
        ("train.batch=1.5:4:int", "whole bounds"),
    ] {
        let e = parse_uniform(arg).unwrap_err();
        assert!(e.render(false).contains(want), "{arg}: {}", e.render(false));
    }
    assert!(matches!(
        parse_uniform("opt.lr=a:1").unwrap_err().error,
        SpaceError::Bound { .. }
    ));
    assert!(matches!(
        parse_uniform("opt.lr=0:1:exp").unwrap_err().error,
        SpaceError::UnknownScale { .. }
    ));
    let nothing = Space::default().points(&[]).unwrap_err();
    assert!(matches!(nothing.error, SpaceError::Nothing));
    let twice = Space {
        grid: vec![
            parse_grid("opt.lr=1").unwrap(),
            parse_grid("opt.lr=2").unwrap(),
        ],
        ..Space::default()
    };
    let args = [
        ("grid", "opt.lr=1".to_string()),
        ("grid", "opt.lr=2".to_string()),
    ];
    assert!(matches!(
        twice.points(&args).unwrap_err().error,
        SpaceError::Twice { .. }
    ));
    let no_draws = Space {
        uniform: vec![parse_uniform("opt.lr=0:1").unwrap()],
        ..Space::default()
    };
    assert!(matches!(
        no_draws.points(&[]).unwrap_err().error,
        SpaceError::NoDraws
    ));
}
