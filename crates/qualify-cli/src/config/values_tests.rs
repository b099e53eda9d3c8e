//! The values of `serve`'s settings: parsing, redaction, their messages.

use super::*;

#[test]
fn database_urls() {
    let ok = |s: &str| DatabaseUrl::parse(s).unwrap();
    assert_eq!(ok("./q.db"), DatabaseUrl::Sqlite("./q.db".into()));
    assert_eq!(ok("q.db"), DatabaseUrl::Sqlite("q.db".into()));
    assert_eq!(ok("/tmp/a:b.db"), DatabaseUrl::Sqlite("/tmp/a:b.db".into()));
    assert_eq!(
        ok("sqlite://q.db"),
        DatabaseUrl::Sqlite("sqlite://q.db".into())
    );
    assert_eq!(ok("SQLite:q.db"), DatabaseUrl::Sqlite("sqlite:q.db".into()));
    assert_eq!(
        ok("sqlite::memory:"),
        DatabaseUrl::Sqlite("sqlite::memory:".into())
    );
    assert_eq!(
        ok("postgres://u@h/db"),
        DatabaseUrl::Postgres("postgres://u@h/db".into())
    );
    assert_eq!(
        ok("postgresql://u@h/db"),
        DatabaseUrl::Postgres("postgresql://u@h/db".into())
    );
    assert_eq!(ok(r"C:\q.db"), DatabaseUrl::Sqlite(r"C:\q.db".into()));
    for bad in ["mysql://x", "http://x", "redis:x", "postgres:x", "", "  "] {
        let e = DatabaseUrl::parse(bad).unwrap_err();
        assert!(
            e.contains("sqlite://FILE") && e.contains("postgres://"),
            "{e}"
        );
    }
}

#[test]
fn passwords_are_redacted() {
    let url = DatabaseUrl::parse("postgres://u:secret@h/db").unwrap();
    assert_eq!(url.redacted(), "postgres://u:***@h/db");
    for (given, shown) in [
        // No password: nothing to hide, the user stays.
        (
            "postgres://postgres@127.0.0.1:5432/test",
            "postgres://postgres@127.0.0.1:5432/test",
        ),
        ("postgres://h/db", "postgres://h/db"),
        ("postgres://u:@h/db", "postgres://u:***@h/db"),
        (
            "postgresql://u:p@ss:w/rd@h:5432/db",
            "postgresql://u:***@h:5432/db",
        ),
    ] {
        let url = DatabaseUrl::parse(given).unwrap();
        assert_eq!(url.redacted(), shown, "{given}");
    }
    assert!(!format!("{url:?}").contains("secret"));
    assert_eq!(
        DatabaseUrl::parse("sqlite://qualify.db")
            .unwrap()
            .redacted(),
        "sqlite://qualify.db"
    );
}

#[test]
fn durations_and_numbers_keep_their_floors_and_round_trip() {
    assert!(Timeout::parse("99ms").is_err());
    assert_eq!(Timeout::parse(" 100ms ").unwrap().get().as_millis(), 100);
    let d = HumanDuration::<0>::parse("1h 30m").unwrap();
    assert_eq!(HumanDuration::<0>::parse(&d.to_string()).unwrap(), d);
    assert!(HumanDuration::<0>::parse("soon").is_err());
    assert!(HumanDuration::<0>::parse("36500d").is_ok());
    assert!(
        HumanDuration::<0>::parse("36501d")
            .unwrap_err()
            .contains("100 years")
    );
    assert!(StartClock::parse("frozen:9000-01-01T00:00:00Z").is_ok());
    assert!(
        StartClock::parse("frozen:9999-12-31T00:00:00Z")
            .unwrap_err()
            .contains("outside")
    );
    assert!(AtLeast::<8192>::parse("8191").is_err());
    assert_eq!(AtLeast::<8192>::parse("8192").unwrap().get(), 8192);
    assert!(AtLeast::<0>::parse("-1").is_err());
}

#[test]
fn lists_skip_blanks_and_name_the_bad_item() {
    assert_eq!(List::<AcademicSuffix>::parse("").unwrap(), List(vec![]));
    let l = List::<GdapRoleName>::parse("directoryreader, License Administrator").unwrap();
    assert_eq!(l.to_string(), "Directory Reader,License Administrator");
    let e = List::<GdapRoleName>::parse("Directory Reader,Global Admin").unwrap_err();
    assert!(
        e.starts_with("\"Global Admin\": expected GDAP roles"),
        "{e}"
    );
    assert_eq!(
        AcademicSuffix::defaults().to_string(),
        DEFAULT_ACADEMIC_SUFFIXES.join(",")
    );
}

#[test]
fn the_dev_secret_is_never_printed_by_debug() {
    let s = DevSecret::parse("hunter2").unwrap();
    assert!(!format!("{s:?}").contains("hunter2"));
}

#[test]
fn choices_ignore_case_and_list_the_words() {
    assert_eq!(Vetting::parse(" Auto ").unwrap(), Vetting::Auto);
    assert_eq!(
        AuthMode::parse("none").unwrap_err(),
        "expected one of dev, oidc"
    );
    assert_eq!(LogFormat::Json.to_string(), "json");
}
