//! Several `qualify serve` instances on one PostgreSQL database behave like one instance.
//! These tests need `QUALIFY_TEST_POSTGRES_URL`; without it they print that they were skipped.

use std::time::Duration;

use futures::future::join_all;
use qualify_store::testing::fresh_postgres_database;
use serde_json::json;

use crate::helpers::*;

/// Three instances on one fresh PostgreSQL database, started at once.
async fn cluster(options: Options) -> Option<(String, Vec<Server>)> {
    let database = fresh_postgres_database().await?;
    let nodes = join_all((0..3).map(|_| Server::start_on(&database, options.clone()))).await;
    Some((database, nodes))
}

async fn pg(database: &str) -> sqlx::PgConnection {
    use sqlx::Connection;
    sqlx::PgConnection::connect(database)
        .await
        .expect("connect to the test database")
}

#[tokio::test]
async fn three_instances_started_at_once_migrate_once_and_become_ready() {
    let Some((database, nodes)) = cluster(Options::default()).await else {
        return;
    };
    for n in &nodes {
        let r = n.get("/readyz").send().await;
        assert_eq!(r.status, 200, "{}", r.text);
    }
    let mut conn = pg(&database).await;
    let applied: Vec<(i64, bool)> =
        sqlx::query_as("SELECT version, success FROM _sqlx_migrations ORDER BY version")
            .fetch_all(&mut conn)
            .await
            .unwrap();
    let files = std::fs::read_dir(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../qualify-store/migrations/postgres"
    ))
    .unwrap()
    .count();
    assert_eq!(
        applied.len(),
        files,
        "each migration applied exactly once: {applied:?}"
    );
    assert!(applied.iter().all(|(_, ok)| *ok));
}

#[tokio::test]
async fn ten_gcc_creates_across_instances_race_for_a_three_use_code() {
    let Some((_db, nodes)) = cluster(Options::default()).await else {
        return;
    };
    let p = nodes[0].partner();
    let code = nodes[1].issue_code(&p, 3).await;
    let mut customers = vec![];
    for i in 0..10 {
        customers.push(nodes[i % 3].create_customer(&p).await);
    }
    let creates = customers.iter().enumerate().map(|(i, c)| {
        nodes[i % 3]
            .post(&format!("/v1/customers/{c}/qualifications"))
            .token(&p.app_user)
            .json(json!({"qualification": "GovernmentCommunityCloud", "validationCode": code}))
            .send()
    });
    let results = join_all(creates).await;
    let created = results.iter().filter(|r| r.status == 201).count();
    assert_eq!(
        created,
        3,
        "{:?}",
        results
            .iter()
            .map(|r| (r.status, &r.text))
            .collect::<Vec<_>>()
    );
    for r in results.iter().filter(|r| r.status != 201) {
        r.assert_error(400, 900305);
    }
    let codes = nodes[2].codes(&p).await;
    assert_eq!(codes[0]["remainingCreates"], 0);
}

#[tokio::test]
async fn one_request_id_sent_to_three_instances_at_once_has_one_effect() {
    let Some((_db, nodes)) = cluster(Options::default()).await else {
        return;
    };
    let p = nodes[0].partner();
    let c = nodes[0].create_customer(&p).await;
    let key = new_id();
    let body =
        json!({"qualification": "Education", "educationSegment": "K12", "website": "contoso.edu"});
    let sends = nodes.iter().map(|n| {
        n.post(&format!("/v1/customers/{c}/qualifications"))
            .token(&p.app_user)
            .request_id(&key)
            .json(body.clone())
            .send()
    });
    let results = join_all(sends).await;
    for r in &results {
        assert_eq!(r.status, 201, "{}", r.text);
        assert_eq!(r.body, results[0].body);
    }
    let replays = results
        .iter()
        .filter(|r| r.header("idempotent-replayed") == Some("true"))
        .count();
    assert_eq!(replays, 2);
    assert_eq!(
        nodes[1]
            .qualifications(&p, &c)
            .await
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn two_operators_on_two_instances_decide_once() {
    let Some((_db, nodes)) = cluster(Options::default()).await else {
        return;
    };
    let p = nodes[0].partner();
    let c = nodes[0].create_customer(&p).await;
    let r = nodes[0]
        .post(&format!("/v1/customers/{c}/qualifications"))
        .token(&p.app_user)
        .json(json!({"qualification": "StateOwnedEntity"}))
        .send()
        .await;
    assert_eq!(r.status, 201);
    let etag = nodes[0].review_etag(&c, "StateOwnedEntity").await;
    let path = format!("/admin/v1/customers/{c}/qualifications/StateOwnedEntity/decision");
    let (a, b) = tokio::join!(
        nodes[1]
            .post(&path)
            .token(&nodes[1].admin_token())
            .header("If-Match", &etag)
            .json(json!({"vettingStatus": "Approved"}))
            .send(),
        nodes[2]
            .post(&path)
            .token(&nodes[2].admin_token())
            .header("If-Match", &etag)
            .json(json!({"vettingStatus": "Denied"}))
            .send(),
    );
    let mut statuses = [a.status, b.status];
    statuses.sort();
    assert!(
        statuses == [200, 409] || statuses == [200, 412],
        "{} / {}",
        a.text,
        b.text
    );
    let winner = if a.status == 200 { &a } else { &b };
    let list = nodes[0].qualifications(&p, &c).await;
    assert_eq!(list[0]["vettingStatus"], winner.body["vettingStatus"]);
    let decisions = nodes[0]
        .history(&c, "StateOwnedEntity")
        .await
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e.get("from").is_some())
        .count();
    assert_eq!(decisions, 1);
}

#[tokio::test]
async fn two_hundred_auto_vetted_requests_are_each_decided_exactly_once() {
    let Some((database, nodes)) = cluster(Options {
        vetting: "auto",
        ..Default::default()
    })
    .await
    else {
        return;
    };
    let p = nodes[0].partner();
    let mut customers = vec![];
    for chunk in (0..200).collect::<Vec<_>>().chunks(20) {
        let made = join_all(
            chunk
                .iter()
                .map(|i| nodes[i % 3].create_customer_with_domain(&p, "uni.edu")),
        )
        .await;
        customers.extend(made);
    }
    for chunk in customers.chunks(20).enumerate() {
        let (k, cs) = chunk;
        let sends = cs.iter().enumerate().map(|(i, c)| {
            nodes[(k + i) % 3]
                .post(&format!("/v1/customers/{c}/qualifications"))
                .token(&p.app_user)
                .json(json!({"qualification": "Education", "educationSegment": "HigherEducation"}))
                .send()
        });
        for r in join_all(sends).await {
            assert_eq!(r.status, 201, "{}", r.text);
        }
    }
    let mut conn = pg(&database).await;
    poll_until("every job done", Duration::from_secs(60), async || {
        let open: i64 = sqlx::query_scalar("SELECT count(*) FROM jobs WHERE done_at IS NULL")
            .fetch_one(&mut conn)
            .await
            .unwrap();
        (open == 0).then_some(())
    })
    .await;
    let per_qualification: Vec<i64> = sqlx::query_scalar(
        "SELECT count(a.id) FROM qualifications q LEFT JOIN audit_events a ON a.qualification_id = q.id AND a.from_status IS NOT NULL \
         GROUP BY q.id",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    assert_eq!(per_qualification.len(), 200);
    assert!(
        per_qualification.iter().all(|n| *n == 1),
        "decisions per qualification: {per_qualification:?}"
    );
    // The API agrees, on every instance.
    for (i, c) in customers.iter().enumerate().step_by(17) {
        let list = nodes[i % 3].qualifications(&p, c).await;
        assert_eq!(list[0]["vettingStatus"], "Approved");
        let history = nodes[(i + 1) % 3].history(c, "Education").await;
        assert_eq!(
            history
                .as_array()
                .unwrap()
                .iter()
                .filter(|e| e.get("from").is_some())
                .count(),
            1
        );
    }
    // Every instance did some of the work or at least stayed consistent: jobs were claimed by
    // leases, never finished twice.
    let twice: i64 = sqlx::query_scalar("SELECT count(*) FROM jobs WHERE attempts > 1")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(twice, 0, "no job needed a second attempt without a failure");
}

#[tokio::test]
async fn a_job_held_by_a_killed_instance_is_finished_by_another_after_the_lease() {
    let Some(database) = fresh_postgres_database().await else {
        return;
    };
    let lease = vec!["--job-lease".to_owned(), "2s".to_owned()];
    let holding = Options {
        vetting: "auto",
        extra: lease.clone(),
        ..Default::default()
    };
    // A holds every job it claims for a minute: long past its lease.
    let mut node_a = Server::start_on_with_env(
        &database,
        holding,
        &[("QUALIFY_FAULT_HOLD_CLAIMED_JOBS", "60000")],
    )
    .await;
    let p = node_a.partner();
    let c = node_a.create_customer_with_domain(&p, "uni.edu").await;
    let r = node_a
        .post(&format!("/v1/customers/{c}/qualifications"))
        .token(&p.app_user)
        .json(json!({"qualification": "Education", "educationSegment": "K12"}))
        .send()
        .await;
    assert_eq!(r.status, 201);
    let mut conn = pg(&database).await;
    poll_until(
        "instance A claiming the job",
        Duration::from_secs(10),
        async || {
            let leased: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM jobs WHERE lease_owner IS NOT NULL AND done_at IS NULL",
            )
            .fetch_one(&mut conn)
            .await
            .unwrap();
            (leased == 1).then_some(())
        },
    )
    .await;
    node_a.kill9();
    let node_b = Server::start_on(
        &database,
        Options {
            vetting: "auto",
            extra: lease,
            ..Default::default()
        },
    )
    .await;
    let decided = node_b.wait_terminal(&p, &c, Duration::from_secs(15)).await;
    assert_eq!(decided["vettingStatus"], "Approved");
    let attempts: i64 = sqlx::query_scalar("SELECT attempts FROM jobs")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(
        attempts, 2,
        "claimed by A, then by B after the lease ran out"
    );
    let history = node_b.history(&c, "Education").await;
    assert_eq!(
        history
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e.get("from").is_some())
            .count(),
        1
    );
}
