//! The task endpoint as a client sees it: task documents, status progression, spaces, tokens
//! and Alumio `Error` bodies.

mod common;

use std::time::Duration;

use alumio_models::{DetailedTaskResult, Lifecycle};
use alumio_sim::{SimConfig, Simulator};
use common::{TOKEN, first_task, get, request, simulator, space, task_uri};
use http::StatusCode;

#[tokio::test]
async fn a_task_body_is_an_alumio_task_document_of_realistic_size() {
    let sim = simulator();
    let id = first_task(&sim, "acme-prod");
    let reply = get(&sim, &task_uri(&id, "acme-prod")).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.headers["content-type"], "application/json");
    let result: DetailedTaskResult = serde_json::from_slice(&reply.body).unwrap();
    let task = result.object.unwrap();
    assert_eq!(task.identifier.as_deref(), Some(id.as_str()));
    assert!(task.entity_type.is_some() && task.entity_identifier.is_some() && task.route.is_some());
    assert!(
        task.entity_data
            .as_ref()
            .is_some_and(serde_json::Value::is_object)
    );
    assert!(
        task.context
            .as_ref()
            .is_some_and(serde_json::Value::is_object)
    );
    let meta = task.meta.unwrap();
    assert!(meta.incoming.is_some() && meta.outgoing.is_some() && meta.route.is_some());
    assert!(task.created_at.unwrap().parse().is_ok());
    assert!(task.updated_at.unwrap().parse().is_ok());
    assert!(
        (1400..=2200).contains(&reply.body.len()),
        "{} bytes",
        reply.body.len()
    );
}

#[test]
fn every_task_of_the_default_installation_is_within_the_size_band() {
    let sim = Simulator::new(SimConfig::default());
    let mut sizes = Vec::new();
    let mut entity_types = std::collections::BTreeSet::new();
    let mut spellings = std::collections::BTreeSet::new();
    // Now, with most tasks in progress, and an hour later, when every task is settled.
    for advance in [Duration::ZERO, Duration::from_secs(3600)] {
        sim.advance_clock(advance);
        for (space, id) in sim
            .spaces()
            .iter()
            .flat_map(|space| sim.task_identifiers(space).map(move |id| (space, id)))
        {
            let body = sim.task_body(space, &id).unwrap();
            let result: DetailedTaskResult = serde_json::from_slice(&body).unwrap();
            let task = result.object.unwrap();
            entity_types.insert(task.entity_type.unwrap());
            let created = task.created_at.unwrap();
            spellings.insert((
                created.as_str().contains('.'),
                created.as_str().ends_with('Z'),
            ));
            assert!(
                (1400..=2200).contains(&body.len()),
                "{id}: {} bytes",
                body.len()
            );
            sizes.push(body.len());
        }
    }
    assert_eq!(sizes.len(), 6000);
    sizes.sort_unstable();
    let median = sizes[sizes.len() / 2];
    assert!((1600..=1800).contains(&median), "median {median} bytes");
    assert_eq!(entity_types.len(), 4, "{entity_types:?}");
    assert_eq!(spellings.len(), 4, "{spellings:?}");
}

#[test]
fn the_same_seed_gives_the_same_tasks_and_another_seed_other_ones() {
    let config = |seed| SimConfig {
        tasks_per_space: 20,
        seed,
        ..SimConfig::default()
    };
    let ids = |sim: &Simulator| sim.task_identifiers(&space("globex")).collect::<Vec<_>>();
    let (a, b, c) = (
        Simulator::new(config(1)),
        Simulator::new(config(1)),
        Simulator::new(config(2)),
    );
    assert_eq!(ids(&a), ids(&b));
    assert_ne!(ids(&a), ids(&c));
    let id = &ids(&a)[0];
    let entity = |sim: &Simulator| {
        let body = sim.task_body(&space("globex"), id).unwrap();
        let task = serde_json::from_slice::<DetailedTaskResult>(&body)
            .unwrap()
            .object
            .unwrap();
        task.entity_data
    };
    assert_eq!(entity(&a), entity(&b));
    assert!(
        ids(&a)
            .iter()
            .all(|id| id.as_str().len() == 26 && id.as_str().starts_with("01J"))
    );
}

#[test]
fn statuses_progress_with_elapsed_time_until_every_task_is_settled() {
    let sim = Simulator::new(SimConfig::default());
    let prod = space("acme-prod");
    let mut moved = 0;
    for id in sim.task_identifiers(&prod) {
        let at = |seconds| {
            sim.status_at(&prod, &id, Duration::from_secs(seconds))
                .unwrap()
        };
        assert_eq!(at(3600).lifecycle(), Lifecycle::Settled, "{id}");
        if at(0).is_in_progress() {
            moved += 1;
        }
    }
    assert!(
        moved > 100,
        "only {moved} tasks were in progress at the start"
    );
    let unknown = "01JNOTATASK0000000000000000".parse().unwrap();
    assert_eq!(sim.status_at(&prod, &unknown, Duration::ZERO), None);
}

#[tokio::test]
async fn a_reply_shows_the_new_status_and_update_time_once_the_clock_moves_on() {
    let sim = simulator();
    let prod = space("acme-prod");
    let id = sim
        .task_identifiers(&prod)
        .find(|id| {
            sim.current_status(&prod, id)
                .is_some_and(|status| status.is_in_progress())
        })
        .expect("an in-progress task");
    let read = |reply: common::Reply| {
        serde_json::from_slice::<DetailedTaskResult>(&reply.body)
            .unwrap()
            .object
            .unwrap()
    };
    let before = read(get(&sim, &task_uri(&id, "acme-prod")).await);
    assert!(before.status.as_ref().unwrap().is_in_progress());

    sim.advance_clock(Duration::from_secs(3600));
    let after = read(get(&sim, &task_uri(&id, "acme-prod")).await);
    assert!(after.status.as_ref().unwrap().is_settled());
    assert_eq!(
        Some(after.status.clone().unwrap()),
        sim.current_status(&prod, &id)
    );
    let updated = |task: &alumio_models::DetailedTask| {
        task.updated_at
            .as_ref()
            .unwrap()
            .parse()
            .unwrap()
            .to_system_time()
    };
    assert!(updated(&after) > updated(&before));
    assert_eq!(after.created_at, before.created_at);
    assert_eq!(after.entity_data, before.entity_data);
}

#[tokio::test]
async fn a_request_without_space_uses_the_default_space() {
    let sim = simulator();
    let in_default = first_task(&sim, "acme-prod");
    assert_eq!(
        get(&sim, &format!("/api/v1/tasks/{in_default}"))
            .await
            .status,
        StatusCode::OK
    );
    let elsewhere = first_task(&sim, "globex");
    assert_eq!(
        get(&sim, &format!("/api/v1/tasks/{elsewhere}"))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn a_task_asked_for_in_another_space_is_not_found() {
    let sim = simulator();
    let id = first_task(&sim, "globex");
    let reply = get(&sim, &task_uri(&id, "acme-prod")).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    let error = reply.error();
    assert_eq!(error.status.as_deref(), Some("404"));
    assert_eq!(error.title.as_deref(), Some("Not Found"));
    assert_eq!(error.detail, Some(format!("task {id} not found")));
    assert_eq!(
        error.error_type.as_deref(),
        Some("https://tools.ietf.org/html/rfc2616#section-10")
    );
    let unknown_space = get(&sim, &task_uri(&id, "initech")).await;
    assert_eq!(unknown_space.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn an_unknown_identifier_or_path_is_not_found() {
    let sim = simulator();
    for uri in [
        "/api/v1/tasks/01JNOTATASK?space=acme-prod",
        "/api/v1/tasks/a%2Fb?space=acme-prod",
        "/api/v1/tasks/%FF?space=acme-prod",
        "/api/v1/task/x",
        "/",
    ] {
        let reply = get(&sim, uri).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{uri}");
        assert_eq!(reply.error().status.as_deref(), Some("404"), "{uri}");
    }
}

#[tokio::test]
async fn an_invalid_space_is_a_bad_request_naming_the_space() {
    let sim = simulator();
    let id = first_task(&sim, "acme-prod");
    for space in ["Acme", "acme_prod", "", "acme%2Fprod", "%FF"] {
        let reply = get(&sim, &format!("/api/v1/tasks/{id}?space={space}")).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{space:?}");
        let error = reply.error();
        assert_eq!(error.status.as_deref(), Some("400"));
        let violations = error.violations.unwrap();
        assert_eq!(
            violations[0].property_path.as_deref(),
            Some("space"),
            "{space:?}"
        );
    }
}

#[tokio::test]
async fn a_missing_or_wrong_token_is_unauthorised() {
    let sim = simulator();
    let uri = task_uri(&first_task(&sim, "acme-prod"), "acme-prod");
    for token in [None, Some("wrong"), Some(""), Some("test-token-12345")] {
        let reply = request(&sim, "GET", &uri, token, "").await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{token:?}");
        assert_eq!(reply.headers["www-authenticate"], "Bearer");
        let error = reply.error();
        assert_eq!(error.status.as_deref(), Some("401"));
        assert!(!String::from_utf8_lossy(&reply.body).contains(TOKEN));
    }
    assert_eq!(
        request(&sim, "GET", &uri, Some(TOKEN), "").await.status,
        StatusCode::OK
    );
    assert_eq!(sim.stats().unauthorised, 4);
}

#[tokio::test]
async fn without_a_configured_token_no_header_is_needed() {
    let sim = Simulator::new(SimConfig {
        tasks_per_space: 5,
        ..SimConfig::default()
    });
    let uri = task_uri(&first_task(&sim, "acme-prod"), "acme-prod");
    assert_eq!(
        request(&sim, "GET", &uri, None, "").await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn another_method_on_the_task_endpoint_is_not_allowed() {
    let sim = simulator();
    let uri = task_uri(&first_task(&sim, "acme-prod"), "acme-prod");
    let reply = request(&sim, "DELETE", &uri, Some(TOKEN), "").await;
    assert_eq!(reply.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(reply.error().status.as_deref(), Some("405"));
}

#[test]
fn a_default_space_outside_the_spaces_falls_back_to_the_first_space() {
    let sim = Simulator::new(SimConfig {
        spaces: vec![space("globex"), space("globex")],
        default_space: space("acme-prod"),
        tasks_per_space: 3,
        ..SimConfig::default()
    });
    assert_eq!(sim.spaces(), [space("globex")]);
    assert_eq!(sim.default_space(), &space("globex"));
    assert!(sim.task_identifiers(&space("acme-prod")).next().is_none());
    assert!(
        sim.current_status(&space("globex"), &first_task(&sim, "globex"))
            .is_some()
    );
}
