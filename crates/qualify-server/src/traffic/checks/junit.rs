//! The checks as JUnit XML, for a CI that reads test reports: one test case per check, a
//! failure per check that found violations.

use super::rules::{CheckId, Violation};

/// The checks as JUnit XML: one test case per check, a failure per check that found violations;
/// the properties say how many requests were judged and how many left the journal unjudged.
pub fn junit(partner: &str, requests: usize, evicted: u64, violations: &[Violation]) -> String {
    use quick_xml::Writer;
    use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};

    let failures = CheckId::ALL
        .iter()
        .filter(|check| violations.iter().any(|v| v.check == **check))
        .count();
    let mut w = Writer::new_with_indent(Vec::new(), b' ', 2);
    let mut write = || -> std::io::Result<()> {
        w.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
        let (tests, failures) = (CheckId::ALL.len().to_string(), failures.to_string());
        let suite_name = format!("qualify client checks for partner {partner}");
        let requests = requests.to_string();
        let mut suites = BytesStart::new("testsuites");
        suites.push_attribute(("name", "qualify client checks"));
        suites.push_attribute(("tests", tests.as_str()));
        suites.push_attribute(("failures", failures.as_str()));
        w.write_event(Event::Start(suites))?;
        let mut suite = BytesStart::new("testsuite");
        suite.push_attribute(("name", suite_name.as_str()));
        suite.push_attribute(("tests", tests.as_str()));
        suite.push_attribute(("failures", failures.as_str()));
        suite.push_attribute(("errors", "0"));
        suite.push_attribute(("skipped", "0"));
        w.write_event(Event::Start(suite))?;
        w.write_event(Event::Start(BytesStart::new("properties")))?;
        let complete = (evicted == 0).to_string();
        let evicted = evicted.to_string();
        for (name, value) in [
            ("requests", requests.as_str()),
            ("complete", complete.as_str()),
            ("evicted", evicted.as_str()),
        ] {
            let mut prop = BytesStart::new("property");
            prop.push_attribute(("name", name));
            prop.push_attribute(("value", value));
            w.write_event(Event::Empty(prop))?;
        }
        w.write_event(Event::End(BytesEnd::new("properties")))?;
        for check in CheckId::ALL {
            let (name, what) = (check.name(), check.description());
            let mut case = BytesStart::new("testcase");
            case.push_attribute(("name", name));
            case.push_attribute(("classname", "qualify.checks"));
            let found: Vec<&Violation> = violations.iter().filter(|v| v.check == check).collect();
            if found.is_empty() {
                w.write_event(Event::Empty(case))?;
                continue;
            }
            w.write_event(Event::Start(case))?;
            let message = format!("{} violation(s): {what}", found.len());
            let mut failure = BytesStart::new("failure");
            failure.push_attribute(("message", message.as_str()));
            failure.push_attribute(("type", name));
            w.write_event(Event::Start(failure))?;
            let text: Vec<String> = found
                .iter()
                .map(|v| format!("requests {:?}: {}", v.seq, v.detail))
                .collect();
            w.write_event(Event::Text(BytesText::new(&text.join("\n"))))?;
            w.write_event(Event::End(BytesEnd::new("failure")))?;
            w.write_event(Event::End(BytesEnd::new("testcase")))?;
        }
        w.write_event(Event::End(BytesEnd::new("testsuite")))?;
        w.write_event(Event::End(BytesEnd::new("testsuites")))?;
        Ok(())
    };
    write().expect("writing to memory cannot fail");
    let mut xml = String::from_utf8(w.into_inner()).expect("the XML writer writes UTF-8");
    xml.push('\n');
    xml
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn junit_has_one_case_per_check_and_parses() {
        let v = vec![Violation {
            check: CheckId::LegacyEndpoint,
            seq: vec![3],
            detail: "GET <&> \"x\"".into(),
            occurrences: 1,
        }];
        let xml = junit("p", 10, 4, &v);
        let mut reader = quick_xml::Reader::from_str(&xml);
        let (mut cases, mut failures) = (0, 0);
        loop {
            match reader.read_event().expect("well-formed XML") {
                quick_xml::events::Event::Start(e) | quick_xml::events::Event::Empty(e) => {
                    match e.name().into_inner() {
                        "testcase" => cases += 1,
                        "failure" => failures += 1,
                        _ => {}
                    }
                }
                quick_xml::events::Event::Eof => break,
                _ => {}
            }
        }
        assert_eq!((cases, failures), (CheckId::ALL.len(), 1));
        assert!(xml.contains("&lt;&amp;&gt;"), "{xml}");
        assert!(
            xml.contains(r#"<property name="complete" value="false"/>"#)
                && xml.contains(r#"<property name="evicted" value="4"/>"#),
            "{xml}"
        );
    }
}
