//! The admin API on its own listener: its token guards every route, purges are seen by the
//! very next request (and by requests already waiting on a fetch), and no secret leaks.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use alumio_gateway::Settings;
use serde_json::Value;
use tempfile::NamedTempFile;
use wiremock::Mock;
use wiremock::matchers::{method, path};

use crate::access::{CRM_KEY, ConsumersFile, ERP_KEY, consumer, get_as, use_consumers};
use crate::helpers::{
    CAPTURED_LOGS, TestApp, UPSTREAM_TOKEN, alumio_serves, concurrent_gets, error_reply, metric,
    secret_file, spawn_app_with, task_bytes, task_reply,
};

pub(crate) const ADMIN_TOKEN: &str = "admin-token-7e3f9b1d5a2c8e40";

/// Turns on the admin API on a loopback port of its own, behind `ADMIN_TOKEN` (in
/// `token_file`), with `/metrics` moved there when `metrics_on_admin`.
pub(crate) fn use_admin(
    settings: &mut Settings,
    token_file: &NamedTempFile,
    metrics_on_admin: bool,
) {
    settings.admin_listen = Some(SocketAddr::from(([127, 0, 0, 1], 0)));
    settings.admin_token_file = Some(token_file.path().to_owned());
    settings.metrics_on_admin = metrics_on_admin;
}

/// A gateway with its admin API on, and the admin API's address.
async fn spawn_with_admin(metrics_on_admin: bool) -> (TestApp, SocketAddr) {
    let token_file = secret_file(ADMIN_TOKEN);
    let app = spawn_app_with(|settings| use_admin(settings, &token_file, metrics_on_admin)).await;
    let admin = app.admin_address.expect("the admin API is on");
    (app, admin)
}

/// Sends `verb path` to the admin listener with `token` as the bearer, if any.
async fn admin_call(
    app: &TestApp,
    admin: SocketAddr,
    verb: reqwest::Method,
    path: &str,
    token: Option<&str>,
) -> reqwest::Response {
    let mut request = app.client.request(verb, format!("http://{admin}{path}"));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.unwrap()
}

pub(crate) async fn purge(app: &TestApp, admin: SocketAddr, path: &str) {
    let response = admin_call(app, admin, reqwest::Method::DELETE, path, Some(ADMIN_TOKEN)).await;
    assert_eq!(response.status(), 204, "{path}");
}

/// The `X-Cache` of a `GET` of `path_and_query`.
async fn x_cache(app: &TestApp, path_and_query: &str) -> String {
    let response = app
        .client
        .get(app.url(path_and_query))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{path_and_query}");
    response.headers()["x-cache"].to_str().unwrap().to_owned()
}

/// Caches every one of `paths`, checking each was a miss.
async fn warm(app: &TestApp, paths: &[&str]) {
    for path in paths {
        assert_eq!(x_cache(app, path).await, "MISS", "{path}");
    }
}

/// A gateway with its admin API on, whose Alumio serves tasks `t-1` and `t-2`.
async fn app_with_tasks(metrics_on_admin: bool) -> (TestApp, SocketAddr) {
    let (app, admin) = spawn_with_admin(metrics_on_admin).await;
    alumio_serves(&app, "t-1", task_reply("t-1", "finished")).await;
    alumio_serves(&app, "t-2", task_reply("t-2", "finished")).await;
    (app, admin)
}

#[tokio::test]
async fn admin_routes_refuse_a_missing_or_wrong_token() {
    let (app, admin) = app_with_tasks(true).await;
    warm(&app, &["/api/v1/tasks/t-1?space=acme"]).await;

    let wrong = format!("{ADMIN_TOKEN}x");
    let attempts: [(reqwest::Method, &str, Option<&str>); 6] = [
        (reqwest::Method::DELETE, "/admin/cache", None),
        (reqwest::Method::DELETE, "/admin/cache", Some(&wrong)),
        (reqwest::Method::DELETE, "/admin/cache", Some("")),
        (reqwest::Method::GET, "/admin/cache/stats", Some(ERP_KEY)),
        (reqwest::Method::GET, "/metrics", None),
        (reqwest::Method::GET, "/no/such/route", None),
    ];
    for (verb, path, token) in attempts {
        let response = admin_call(&app, admin, verb, path, token).await;
        assert_eq!(response.status(), 401, "{path} with {token:?}");
        assert_eq!(
            response.headers()["www-authenticate"],
            "Bearer realm=\"alumio-gateway-admin\""
        );
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["status"], "401");
    }
    let basic = app
        .client
        .delete(format!("http://{admin}/admin/cache"))
        .basic_auth("admin", Some(ADMIN_TOKEN))
        .send()
        .await
        .unwrap();
    assert_eq!(basic.status(), 401);

    assert_eq!(
        x_cache(&app, "/api/v1/tasks/t-1?space=acme").await,
        "HIT",
        "nothing was purged"
    );
    let metrics = admin_call(
        &app,
        admin,
        reqwest::Method::GET,
        "/metrics",
        Some(ADMIN_TOKEN),
    )
    .await
    .text()
    .await
    .unwrap();
    assert_eq!(
        metric(
            &metrics,
            "alumio_gateway_denied_requests_total{reason=\"admin-token\"}"
        ),
        7.0
    );
    assert_eq!(
        metric(&metrics, "alumio_gateway_purges_total{scope=\"all\"}"),
        0.0
    );
}

#[tokio::test]
async fn the_admin_api_is_not_on_the_consumer_listener() {
    let (app, _admin) = app_with_tasks(false).await;
    let on_consumer_side = app
        .client
        .delete(app.url("/admin/cache"))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(on_consumer_side.status(), 404);
}

#[tokio::test]
async fn purging_one_entry_is_seen_by_the_next_request() {
    let (app, admin) = app_with_tasks(false).await;
    let (target, same_id_no_space, other) = (
        "/api/v1/tasks/t-1?space=acme",
        "/api/v1/tasks/t-1",
        "/api/v1/tasks/t-2?space=acme",
    );
    warm(&app, &[target, same_id_no_space, other]).await;

    purge(&app, admin, "/admin/cache/tasks/t-1?space=acme").await;

    assert_eq!(x_cache(&app, target).await, "MISS");
    assert_eq!(x_cache(&app, same_id_no_space).await, "HIT");
    assert_eq!(x_cache(&app, other).await, "HIT");

    purge(&app, admin, "/admin/cache/tasks/t-1").await;
    assert_eq!(x_cache(&app, same_id_no_space).await, "MISS");
    assert_eq!(x_cache(&app, target).await, "HIT");
    let metrics = app.metrics().await;
    assert_eq!(
        metric(&metrics, "alumio_gateway_purges_total{scope=\"task\"}"),
        2.0
    );
}

#[tokio::test]
async fn purging_a_space_drops_that_space_only() {
    let (app, admin) = app_with_tasks(false).await;
    let acme = [
        "/api/v1/tasks/t-1?space=acme",
        "/api/v1/tasks/t-2?space=acme",
    ];
    let (globex, no_space) = ("/api/v1/tasks/t-1?space=globex", "/api/v1/tasks/t-2");
    warm(&app, &[acme[0], acme[1], globex, no_space]).await;

    purge(&app, admin, "/admin/cache/spaces/acme").await;
    assert_eq!(x_cache(&app, acme[0]).await, "MISS");
    assert_eq!(x_cache(&app, acme[1]).await, "MISS");
    assert_eq!(x_cache(&app, globex).await, "HIT");
    assert_eq!(x_cache(&app, no_space).await, "HIT");

    purge(&app, admin, "/admin/cache/without-space").await;
    assert_eq!(x_cache(&app, no_space).await, "MISS");
    assert_eq!(x_cache(&app, globex).await, "HIT");
}

#[tokio::test]
async fn purging_everything_empties_the_cache() {
    let (app, admin) = app_with_tasks(false).await;
    let paths = [
        "/api/v1/tasks/t-1?space=acme",
        "/api/v1/tasks/t-2?space=globex",
        "/api/v1/tasks/t-1",
    ];
    warm(&app, &paths).await;

    purge(&app, admin, "/admin/cache").await;
    assert_eq!(app.state.cache().usage().entries, 0);
    for path in paths {
        assert_eq!(x_cache(&app, path).await, "MISS", "{path}");
    }
    assert_eq!(app.upstream_requests().await, 6);
}

#[tokio::test]
async fn a_purge_during_a_coalesced_fetch_does_not_leave_the_old_answer_cached() {
    let (app, admin) = spawn_with_admin(false).await;
    // The first fetch is slow and brings the pre-purge answer; any later one the new answer.
    Mock::given(method("GET"))
        .and(path("/api/v1/tasks/moving"))
        .respond_with(task_reply("moving", "processing").set_delay(Duration::from_millis(600)))
        .up_to_n_times(1)
        .mount(&app.alumio)
        .await;
    alumio_serves(&app, "moving", task_reply("moving", "finished")).await;

    let path_and_query = "/api/v1/tasks/moving?space=acme";
    let purge_while_waiting = async {
        let deadline = Instant::now() + Duration::from_secs(10);
        while metric(
            &app.metrics().await,
            "alumio_gateway_coalesced_waiters_total",
        ) < 19.0
        {
            assert!(
                Instant::now() < deadline,
                "the requests did not all join the fetch"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(
            app.state.fetcher().in_flight(),
            1,
            "the first fetch is still under way"
        );
        purge(&app, admin, "/admin/cache/tasks/moving?space=acme").await;
    };
    let (results, ()) = tokio::join!(
        concurrent_gets(&app, path_and_query, 20),
        purge_while_waiting
    );

    let after = task_bytes("moving", "finished");
    assert_eq!(results.len(), 20);
    assert!(
        results
            .iter()
            .all(|(status, body)| *status == 200 && body == &after[..]),
        "every waiter got the post-purge answer"
    );
    let next = app
        .client
        .get(app.url(path_and_query))
        .send()
        .await
        .unwrap();
    assert_eq!(next.headers()["x-cache"], "HIT");
    assert_eq!(next.bytes().await.unwrap(), after);
    assert_eq!(app.upstream_requests().await, 2);
}

#[tokio::test]
async fn purges_name_their_target_exactly_as_consumers_do() {
    let (app, admin) = app_with_tasks(false).await;
    let token = Some(ADMIN_TOKEN);
    for path in [
        "/admin/cache/spaces/Acme",
        "/admin/cache/tasks/a%0Ab",
        "/admin/cache/tasks/t-1?space=a&space=b",
    ] {
        let response = admin_call(&app, admin, reqwest::Method::DELETE, path, token).await;
        assert_eq!(response.status(), 400, "{path}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["status"], "400");
    }
    let wrong_method = admin_call(&app, admin, reqwest::Method::GET, "/admin/cache", token).await;
    assert_eq!(wrong_method.status(), 405);
    assert_eq!(wrong_method.headers()["allow"], "DELETE");
    let unknown = admin_call(&app, admin, reqwest::Method::GET, "/admin/nothing", token).await;
    assert_eq!(unknown.status(), 404);
}

#[tokio::test]
async fn cache_stats_count_entries_and_bytes() {
    let (app, admin) = app_with_tasks(false).await;
    warm(
        &app,
        &[
            "/api/v1/tasks/t-1?space=acme",
            "/api/v1/tasks/t-2?space=acme",
        ],
    )
    .await;

    let response = admin_call(
        &app,
        admin,
        reqwest::Method::GET,
        "/admin/cache/stats",
        Some(ADMIN_TOKEN),
    )
    .await;
    assert_eq!(response.status(), 200);
    let stats: Value = response.json().await.unwrap();
    assert_eq!(stats["entries"], 2);
    assert!(stats["bytes"].as_u64().unwrap() > 2 * task_bytes("t-1", "finished").len() as u64);
    assert_eq!(stats["fetchesInFlight"], 0);
}

#[tokio::test]
async fn metrics_can_move_to_the_admin_listener() {
    let (app, admin) = app_with_tasks(true).await;
    let consumer_side = app.address;

    let hidden = app
        .client
        .get(format!("http://{consumer_side}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(hidden.status(), 404);
    let served = admin_call(
        &app,
        admin,
        reqwest::Method::GET,
        "/metrics",
        Some(ADMIN_TOKEN),
    )
    .await;
    assert_eq!(served.status(), 200);
    assert!(
        served
            .text()
            .await
            .unwrap()
            .contains("alumio_gateway_cache_hits_total")
    );
    let tasks = app
        .client
        .get(format!("http://{consumer_side}/api/v1/tasks/t-1"))
        .send()
        .await;
    assert_eq!(
        tasks.unwrap().status(),
        200,
        "the task route is still served"
    );
}

#[tokio::test]
async fn no_secret_appears_in_any_log_line_error_body_or_metric() {
    let text = format!(
        "{}{}",
        consumer(
            "erp",
            ERP_KEY,
            "spaces = [\"acme\"]\nrate-per-second = 0.1\nburst = 3"
        ),
        consumer("crm", CRM_KEY, "spaces = \"*\"")
    );
    let consumers = ConsumersFile::new(&text);
    let token_file = secret_file(ADMIN_TOKEN);
    let app = spawn_app_with(|settings| {
        use_consumers(settings, &consumers);
        use_admin(settings, &token_file, true);
    })
    .await;
    let admin = app.admin_address.unwrap();
    alumio_serves(&app, "ok", task_reply("ok", "finished")).await;
    alumio_serves(&app, "refused", error_reply(401, "Unauthorized")).await;
    let near_miss_key = format!("{ERP_KEY}0");
    let near_miss_token = format!("{ADMIN_TOKEN}0");

    let mut seen = String::new();
    let mut record = async |response: reqwest::Response| {
        seen.push_str(&format!("{:?}\n", response.headers()));
        seen.push_str(&response.text().await.unwrap());
    };
    for (key, path) in [
        (Some(ERP_KEY), "/api/v1/tasks/ok?space=acme"),
        (Some(ERP_KEY), "/api/v1/tasks/refused?space=acme"),
        (Some(ERP_KEY), "/api/v1/tasks/ok?space=globex"),
        (Some(ERP_KEY), "/api/v1/tasks/ok?space=acme"),
        (Some(near_miss_key.as_str()), "/api/v1/tasks/ok?space=acme"),
        (Some(ADMIN_TOKEN), "/api/v1/tasks/ok?space=acme"),
        (Some(CRM_KEY), "/api/v1/tasks/bad%0Aid"),
        (None, "/api/v1/tasks/ok"),
    ] {
        record(get_as(&app, key, path).await).await;
    }
    for token in [
        Some(near_miss_token.as_str()),
        Some(ERP_KEY),
        None,
        Some(ADMIN_TOKEN),
    ] {
        record(
            admin_call(
                &app,
                admin,
                reqwest::Method::GET,
                "/admin/cache/stats",
                token,
            )
            .await,
        )
        .await;
        record(admin_call(&app, admin, reqwest::Method::DELETE, "/admin/cache", token).await).await;
    }
    record(
        admin_call(
            &app,
            admin,
            reqwest::Method::GET,
            "/metrics",
            Some(ADMIN_TOKEN),
        )
        .await,
    )
    .await;
    record(app.client.get(app.url("/metrics")).send().await.unwrap()).await;

    assert!(
        seen.contains("alumio_gateway_denied_requests_total"),
        "the metrics were read"
    );
    let logs = CAPTURED_LOGS.text();
    for secret in [
        ERP_KEY,
        CRM_KEY,
        ADMIN_TOKEN,
        UPSTREAM_TOKEN,
        &near_miss_key,
        &near_miss_token,
    ] {
        assert!(
            !seen.contains(secret),
            "a secret is in a response or metric"
        );
        assert!(!logs.contains(secret), "a secret is in a log line");
    }
}
