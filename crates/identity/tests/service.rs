#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The verification flows against a real database (SQLite, and PostgreSQL when
//! `HEGUI_TEST_POSTGRES_URL` is set) and loopback provider servers.

use std::sync::Arc;
use std::time::Duration;

use hegui_identity::providers::mock::{
    authority_config_for, sms_config_for, MockAuthority, MockSmsGateway, SmsMode,
};
use hegui_identity::providers::{build_authority, build_sms};
use hegui_identity::service::{
    keys_in_use, reencrypt_all, IdentityError, IdentityService, OtpPolicy, Settings,
};
use hegui_identity::{Field, PiKeys};
use hegui_store::testing::{fresh_postgres_database, fresh_sqlite_url, postgres_admin_url};
use hegui_store::Store;

struct Env {
    store: Store,
    sms: MockSmsGateway,
    _authority: MockAuthority,
    service: IdentityService,
    keys: PiKeys,
    _dir: Option<hegui_store::testing::tempfile_guard::TempDir>,
}

async fn stores() -> Vec<(Store, Option<hegui_store::testing::tempfile_guard::TempDir>)> {
    let (url, dir) = fresh_sqlite_url().unwrap();
    let mut v = vec![(Store::open(&url, 4).await.unwrap(), Some(dir))];
    if let Some(admin) = postgres_admin_url() {
        let url = fresh_postgres_database(&admin).await.unwrap();
        v.push((Store::open(&url, 4).await.unwrap(), None));
    }
    v
}

async fn env(
    store: Store,
    dir: Option<hegui_store::testing::tempfile_guard::TempDir>,
    settings: Settings,
) -> Env {
    let sms = MockSmsGateway::start(SmsMode::Ok).await;
    let authority = MockAuthority::start().await;
    let keys = PiKeys::generate();
    let service = IdentityService::new(
        store.clone(),
        Arc::new(keys.clone()),
        build_sms(&sms_config_for(&sms.url()), false).unwrap(),
        Some(build_authority(&authority_config_for(&authority.url())).unwrap()),
        settings,
    );
    Env {
        store,
        sms,
        _authority: authority,
        service,
        keys,
        _dir: dir,
    }
}

fn id_number(first17: &str) -> String {
    format!(
        "{first17}{}",
        hegui_pii::id_card::check_char(first17).unwrap()
    )
}

#[tokio::test]
async fn an_expired_code_is_refused_and_recorded() {
    for (store, dir) in stores().await {
        let e = env(
            store,
            dir,
            Settings {
                otp: OtpPolicy {
                    ttl: Duration::from_millis(50),
                    ..OtpPolicy::default()
                },
                ..Settings::default()
            },
        )
        .await;
        let (u, _) = e.service.register(None, None, "t").await.unwrap();
        e.service
            .start_phone(&u.id, "13987654321", "127.0.0.1")
            .await
            .unwrap();
        let code = e.sms.messages().last().unwrap().1.clone();
        tokio::time::sleep(Duration::from_millis(120)).await;
        let err = e.service.confirm_phone(&u.id, &code).await.unwrap_err();
        assert!(matches!(err, IdentityError::CodeExpired), "{err}");
        let rows = e.store.journal_of_kind("identity_check", 10).await.unwrap();
        assert!(rows
            .iter()
            .any(|r| r.record.as_deref().unwrap_or("").contains("\"expired\"")));
    }
}

#[tokio::test]
async fn concurrent_guesses_cannot_exceed_the_attempt_limit() {
    for (store, dir) in stores().await {
        let e = Arc::new(env(store, dir, Settings::default()).await);
        let (u, _) = e.service.register(None, None, "t").await.unwrap();
        e.service
            .start_phone(&u.id, "13987654321", "127.0.0.1")
            .await
            .unwrap();
        let code = e.sms.messages().last().unwrap().1.clone();
        let wrong = format!("{:06}", (code.parse::<u32>().unwrap() + 1) % 1_000_000);
        let tasks: Vec<_> = (0..20)
            .map(|_| {
                let e = e.clone();
                let (id, w) = (u.id.clone(), wrong.clone());
                tokio::spawn(async move { e.service.confirm_phone(&id, &w).await })
            })
            .collect();
        let mut wrong_answers = 0;
        for t in tasks {
            match t.await.unwrap() {
                Err(IdentityError::CodeWrong { .. }) => wrong_answers += 1,
                Err(IdentityError::TooManyAttempts) => {}
                other => panic!("{other:?}"),
            }
        }
        assert!(wrong_answers <= 4, "{wrong_answers} guesses were compared");
        // The right code is refused too once the limit is used up.
        assert!(matches!(
            e.service.confirm_phone(&u.id, &code).await,
            Err(IdentityError::TooManyAttempts)
        ));
    }
}

#[tokio::test]
async fn rotation_reencrypts_everything_and_is_idempotent() {
    for (store, dir) in stores().await {
        let mut e = env(
            store,
            dir,
            Settings {
                store_id_number: true,
                ..Settings::default()
            },
        )
        .await;
        let mut users = Vec::new();
        for i in 0..3 {
            let (u, _) = e.service.register(None, None, "t").await.unwrap();
            e.service
                .operator_verify_phone(&u.id, &format!("1398765432{i}"), "counter", "op")
                .await
                .unwrap();
            e.service
                .operator_verify_id(
                    &u.id,
                    &id_number(&format!("1101051980070430{i}")),
                    "counter",
                    "op",
                )
                .await
                .unwrap();
            users.push(u.id);
        }
        // A pending code holds an encrypted number too.
        let (pending, _) = e.service.register(None, None, "t").await.unwrap();
        e.service
            .start_phone(&pending.id, "13900000001", "127.0.0.1")
            .await
            .unwrap();
        assert_eq!(keys_in_use(&e.store).await.unwrap(), vec!["k1".to_string()]);

        let mut keys = e.keys.clone();
        assert_eq!(keys.add_key(), "k2");
        let report = reencrypt_all(&e.store, &keys).await.unwrap();
        assert_eq!(
            (report.identities, report.challenges, report.skipped),
            (3, 1, 0)
        );
        assert_eq!(keys_in_use(&e.store).await.unwrap(), vec!["k2".to_string()]);
        let again = reencrypt_all(&e.store, &keys).await.unwrap();
        assert_eq!((again.identities, again.challenges), (0, 0), "idempotent");
        keys.retire("k1").unwrap();
        for (i, u) in users.iter().enumerate() {
            let c = e.store.identity_ciphertexts(u).await.unwrap().unwrap();
            assert_eq!(
                keys.decrypt(Field::Phone, u, c.phone_enc.as_deref().unwrap())
                    .unwrap(),
                format!("1398765432{i}")
            );
            assert!(keys
                .decrypt(Field::IdNumber, u, c.id_enc.as_deref().unwrap())
                .unwrap()
                .starts_with("1101051980070430"));
        }
        // The service keeps working with the rotated keys.
        e.keys = keys.clone();
        let svc = IdentityService::new(
            e.store.clone(),
            Arc::new(keys),
            build_sms(&sms_config_for(&e.sms.url()), false).unwrap(),
            None,
            Settings::default(),
        );
        let code = e.sms.messages().last().unwrap().1.clone();
        svc.confirm_phone(&pending.id, &code).await.unwrap();
        let export = svc.export(&users[0]).await.unwrap();
        assert_eq!(export["personal_information"]["phone"], "13987654320");
    }
}
