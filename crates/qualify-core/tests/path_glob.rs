//! The fault path glob (control.md 5) against a naive reference matcher, and its cost bound:
//! a glob's match takes at most `2 × path segments × glob segments + glob segments + 1` steps,
//! whatever the path and however many `**` the glob has (issue 23: `/v1/**/**/**/**/zz`
//! against a 400-segment path used to take 35 s). Deterministic: fixed seeds, no persistence.

use proptest::prelude::*;
use proptest::test_runner::{Config, FileFailurePersistence, RngAlgorithm, RngSeed, TestRunner};
use qualify_core::faults::{PathGlob, segments};

/// The bound `PathGlob::matches_counting` documents.
fn bound(path_segments: usize, glob_segments: usize) -> u64 {
    (2 * path_segments * glob_segments + glob_segments + 1) as u64
}

/// The naive matcher the glob replaces: recursion over segments, every split tried for `**`,
/// and backtracking over characters for `*` within a segment. Exponential; small inputs only.
fn reference(glob: &[&str], path: &[&str]) -> bool {
    match glob.split_first() {
        None => path.is_empty(),
        Some((&"**", rest)) => (0..=path.len()).any(|skip| reference(rest, &path[skip..])),
        Some((first, rest)) => match path.split_first() {
            Some((segment, path_rest)) => {
                reference_wildcard(first.as_bytes(), segment.as_bytes())
                    && reference(rest, path_rest)
            }
            None => false,
        },
    }
}

fn reference_wildcard(p: &[u8], t: &[u8]) -> bool {
    match p.split_first() {
        None => t.is_empty(),
        Some((b'*', rest)) => (0..=t.len()).any(|skip| reference_wildcard(rest, &t[skip..])),
        Some((c, rest)) => t.first() == Some(c) && reference_wildcard(rest, &t[1..]),
    }
}

fn config(cases: u32, seed: u64) -> Config {
    Config {
        cases,
        rng_algorithm: RngAlgorithm::ChaCha,
        rng_seed: RngSeed::Fixed(seed),
        failure_persistence: Some(Box::new(FileFailurePersistence::Off)),
        ..Config::default()
    }
}

/// A glob segment: mostly from a tiny alphabet, so that globs and paths often almost match.
fn glob_segment() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => Just("**".to_owned()),
        2 => Just("*".to_owned()),
        4 => prop::sample::select(vec!["a", "b", "ab", "a*", "*b", "a*b", "*a*", "b*a*"])
            .prop_map(str::to_owned),
        1 => "[ab*]{0,4}".prop_filter("not a lone **", |s| s != "**" && !s.is_empty()),
    ]
}

fn path_segment() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::sample::select(vec!["a", "b", "ab", "ba", "aab"]).prop_map(str::to_owned),
        1 => "[ab]{1,5}",
    ]
}

fn join(segments: &[String]) -> String {
    format!("/{}", segments.join("/"))
}

#[test]
fn the_glob_agrees_with_the_naive_matcher_on_small_inputs() {
    let mut runner = TestRunner::new(config(4_000, 0x5eed_0023));
    let strategy = (
        prop::collection::vec(glob_segment(), 0..7),
        prop::collection::vec(path_segment(), 0..9),
    );
    runner
        .run(&strategy, |(glob, path)| {
            let text = join(&glob);
            let parsed = PathGlob::parse(&text).expect("a small glob is within the bounds");
            let path = join(&path);
            let glob_segments: Vec<&str> = segments(&text).collect();
            let path_segments: Vec<&str> = segments(&path).collect();
            let (matched, steps) = parsed.matches_counting(&path);
            prop_assert_eq!(
                matched,
                reference(&glob_segments, &path_segments),
                "{} against {}",
                text,
                path
            );
            prop_assert_eq!(matched, parsed.matches(&path));
            prop_assert!(steps <= bound(path_segments.len(), glob_segments.len()));
            Ok(())
        })
        .unwrap();
}

#[test]
fn the_glob_takes_bounded_steps_on_large_inputs() {
    let mut runner = TestRunner::new(config(64, 0x5eed_2000));
    // Up to 5 `**` spread among up to 12 other segments, against paths of 1,500 to 2,000
    // segments over the same tiny alphabet, with a tail that sometimes lets the glob match.
    let glob = (
        prop::collection::vec(glob_segment().prop_filter("not **", |s| s != "**"), 1..12),
        prop::collection::vec(any::<prop::sample::Index>(), 1..=5),
    )
        .prop_map(|(mut others, anys)| {
            for at in anys {
                let i = at.index(others.len() + 1);
                others.insert(i, "**".to_owned());
            }
            others
        });
    let path = (
        prop::collection::vec(path_segment(), 1_500..=2_000),
        prop::collection::vec(path_segment(), 0..4),
    );
    runner
        .run(&(glob, path), |(glob, (mut path, tail))| {
            path.extend(tail);
            let text = join(&glob);
            let parsed = PathGlob::parse(&text).expect("within the bounds");
            let path = join(&path);
            let (n, p) = (segments(&path).count(), segments(&text).count());
            let (_, steps) = parsed.matches_counting(&path);
            prop_assert!(
                steps <= bound(n, p) && steps <= 4 * (n * p) as u64,
                "{} steps for {} glob segments against {} path segments ({})",
                steps,
                p,
                n,
                text
            );
            Ok(())
        })
        .unwrap();
}

#[test]
fn two_thousand_segments_against_five_any_take_bounded_steps() {
    let glob = PathGlob::parse("/v1/**/**/**/**/**/zz").unwrap();
    let path = format!("/v1{}", "/a".repeat(2_000));
    let started = std::time::Instant::now();
    let (matched, steps) = glob.matches_counting(&path);
    let took = started.elapsed();
    assert!(!matched);
    assert!(steps <= bound(2_001, 7), "{steps} steps");
    // Linear here: the last `**` takes one more segment per step.
    assert!(steps <= 3 * 2_001, "{steps} steps");
    eprintln!("2,000 segments against 5 `**`: {steps} steps in {took:?}");
    assert!(glob.matches(&format!("{path}/zz")));

    // The glob's worst shape: `**` then literals that almost match everywhere.
    let worst = PathGlob::parse("/**/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/b").unwrap();
    let (matched, steps) = worst.matches_counting(&format!("{}/c", "/a".repeat(2_000)));
    assert!(!matched);
    assert!(steps <= bound(2_001, 25), "{steps} steps");

    // Wildcards within long segments stay linear too (a backtracking `*` would compare the
    // 101-character piece at each of the 30,000 positions of each segment).
    let stars = PathGlob::parse(&format!("/v1/**/*{}b*/**/zz", "a".repeat(100))).unwrap();
    let long = format!("/v1{}/zz", format!("/{}", "a".repeat(30_000)).repeat(2));
    let started = std::time::Instant::now();
    assert!(!stars.matches(&long));
    eprintln!(
        "2 segments of 30,000 characters against *a×100b*: {:?}",
        started.elapsed()
    );
    let hit = format!("/v1/x/{}b/zz", "a".repeat(30_000));
    assert!(stars.matches(&hit));
}
