//! PutMetricData through the AWS SDK: the standard credential chain, the home region when one is
//! given (`--home-region`: every region's canary publishes where the alarms are), else the
//! standard region (a missing region is one line naming `AWS_REGION`, not the SDK's error dumps), the endpoint override of
//! `AWS_ENDPOINT_URL`/`AWS_ENDPOINT_URL_CLOUDWATCH` (read by `aws-config`), one rustls+ring HTTP
//! client, per-attempt and total timeouts, and the SDK's standard retries with exponential
//! backoff. Data is checked and split by [`super::limits`] before any request.

use std::time::{Duration, SystemTime};

use aws_config::BehaviorVersion;
use aws_config::environment::region::EnvironmentVariableRegionProvider;
use aws_config::imds::region::ImdsRegionProvider;
use aws_config::meta::region::RegionProviderChain;
use aws_config::profile::region::ProfileFileRegionProvider;
use aws_config::provider_config::ProviderConfig;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_sdk_cloudwatch::Client;
use aws_sdk_cloudwatch::config::{Region, SharedHttpClient};
use aws_sdk_cloudwatch::error::DisplayErrorContext;
use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::{Dimension, MetricDatum, StandardUnit};
use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
use tracing::instrument::WithSubscriber as _;
use tracing::subscriber::NoSubscriber;

use super::{BoxFuture, PublishError, Sink, limits};
use crate::config::SinkKind;
use crate::metrics::{Datum, Unit};

/// How the CloudWatch client behaves.
#[derive(Debug, Clone)]
pub struct CloudWatchSettings {
    /// Namespace of every metric.
    pub namespace: String,
    /// The region whose CloudWatch receives the metrics (the home region); `None`: the SDK's.
    pub region: Option<String>,
    /// 1 (high resolution) or 60.
    pub storage_resolution: i32,
    /// Timeout of one attempt.
    pub attempt_timeout: Duration,
    /// Retries after the first attempt.
    pub retries: u32,
}

/// Publishes with PutMetricData.
pub struct CloudWatchSink {
    client: Client,
    settings: CloudWatchSettings,
}

impl CloudWatchSink {
    /// Loads the AWS configuration (region, credentials, endpoint) and builds the client.
    pub async fn new(settings: CloudWatchSettings) -> Result<Self, PublishError> {
        let http_client = aws_smithy_http_client::Builder::new()
            .tls_provider(Provider::Rustls(CryptoMode::Ring))
            .build_https();
        let attempts = settings.retries + 1;
        let timeouts = TimeoutConfig::builder()
            .connect_timeout(settings.attempt_timeout.min(Duration::from_secs(3)))
            .operation_attempt_timeout(settings.attempt_timeout)
            // Room for every attempt plus the backoff between them.
            .operation_timeout(settings.attempt_timeout * attempts + Duration::from_secs(2))
            .build();
        let retry = RetryConfig::standard()
            .with_max_attempts(attempts)
            .with_initial_backoff(Duration::from_millis(100))
            .with_max_backoff(Duration::from_secs(2));
        let region = match &settings.region {
            Some(home) => Region::new(home.clone()),
            None => find_region(&http_client)
                .await
                .ok_or(PublishError::NoRegion)?,
        };
        tracing::debug!(%region, "AWS region");
        let config = aws_config::defaults(BehaviorVersion::latest())
            .region(region)
            .http_client(http_client)
            .timeout_config(timeouts)
            .retry_config(retry)
            .load()
            .await;
        Ok(CloudWatchSink {
            client: Client::new(&config),
            settings,
        })
    }

    fn to_sdk(&self, d: &Datum) -> MetricDatum {
        let dimensions = d
            .dimensions
            .iter()
            .map(|(n, v)| Dimension::builder().name(n).value(v).build())
            .collect();
        let mut b = MetricDatum::builder()
            .metric_name(&d.name)
            .set_dimensions(Some(dimensions))
            .value(d.value)
            .unit(match d.unit {
                Unit::Count => StandardUnit::Count,
                Unit::Milliseconds => StandardUnit::Milliseconds,
                Unit::None => StandardUnit::None,
            })
            .timestamp(DateTime::from(d.timestamp));
        if self.settings.storage_resolution == 1 {
            b = b.storage_resolution(1);
        }
        b.build()
    }
}

/// The region, from the SDK's default sources in its order: `AWS_REGION` or
/// `AWS_DEFAULT_REGION`, the AWS config profile, then EC2 instance metadata. Looked up here
/// rather than by `load`, quietly: without a region, instance metadata's failure is what the SDK
/// logs, as a multi-line error dump (and `load` looked twice, once more for the credentials),
/// where [`PublishError::NoRegion`] says in one line what to do. Only this lookup is silenced;
/// `load` then reads the profile again and warns as usual.
async fn find_region(http_client: &SharedHttpClient) -> Option<Region> {
    let conf = ProviderConfig::default().with_http_client(http_client.clone());
    let chain = RegionProviderChain::first_try(EnvironmentVariableRegionProvider::new())
        .or_else(
            ProfileFileRegionProvider::builder()
                .configure(&conf)
                .build(),
        )
        .or_else(ImdsRegionProvider::builder().configure(&conf).build());
    chain
        .region()
        .with_subscriber(NoSubscriber::default())
        .await
}

impl Sink for CloudWatchSink {
    fn kind(&self) -> SinkKind {
        SinkKind::CloudWatch
    }

    fn publish<'a>(&'a self, data: &'a [Datum]) -> BoxFuture<'a, Result<(), PublishError>> {
        Box::pin(async move {
            let batches = limits::batches(&self.settings.namespace, data, SystemTime::now())?;
            let total = batches.len();
            for (i, batch) in batches.iter().enumerate() {
                self.client
                    .put_metric_data()
                    .namespace(&self.settings.namespace)
                    .set_metric_data(Some(batch.iter().map(|d| self.to_sdk(d)).collect()))
                    .send()
                    .await
                    .map_err(|e| PublishError::CloudWatch {
                        batch: i + 1,
                        batches: total,
                        message: DisplayErrorContext(&e).to_string(),
                        undelivered: batches[i..].iter().flatten().cloned().collect(),
                    })?;
                tracing::debug!(
                    batch = i + 1,
                    of = total,
                    data = batch.len(),
                    "PutMetricData ok"
                );
            }
            Ok(())
        })
    }
}
