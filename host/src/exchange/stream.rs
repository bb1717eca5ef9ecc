//! The streaming modes of an exchange: `buffer` holds the whole stream, audits it, then releases
//! it (or denies); `observe` forwards chunks as they come and audits at the end; `incremental`
//! forwards while periodic audits of the growing answer allow it. The AR always follows.

use std::time::Instant;

use futures_util::StreamExt;
use serde_json::Value;
use tokio::sync::mpsc;

use super::flow::{Exchange, Outcome, StreamEvent};
use super::openai::Assembly;
use super::upstream::{ChunkStream, UpstreamError};
use crate::config::StreamMode;
use crate::policy::Effect;
use crate::runtime::claim::Phase;

/// Events queued towards a slow client before the exchange waits for it.
const EVENT_QUEUE: usize = 64;

pub(super) async fn run(mut ex: Exchange, mode: StreamMode) -> Outcome {
    let service = ex.service.clone();
    let upstream_started = Instant::now();
    let chunks = match service
        .upstream
        .stream(&ex.request, &ex.head.request_id)
        .await
    {
        Ok(c) => c,
        Err(e) => {
            ex.upstream_time = upstream_started.elapsed();
            return ex.upstream_failed(e).await;
        }
    };
    match mode {
        StreamMode::Buffer => buffered(ex, chunks, upstream_started).await,
        StreamMode::Observe | StreamMode::Incremental => {
            let every = service.streaming.incremental_chars.max(1);
            let (tx, events) = mpsc::channel(EVENT_QUEUE);
            let head = ex.head.clone();
            tokio::spawn(forward(ex, chunks, mode, every, tx, upstream_started));
            Outcome::Forwarded { head, events }
        }
    }
}

/// Hold the whole stream; audit; then release it (allow) or deny.
async fn buffered(mut ex: Exchange, mut chunks: ChunkStream, started: Instant) -> Outcome {
    let mut all: Vec<Value> = Vec::new();
    let mut assembly = Assembly::new();
    while let Some(item) = chunks.next().await {
        match item.and_then(|chunk| checked(&mut assembly, chunk)) {
            Ok(chunk) => all.push(chunk),
            Err(e) => {
                ex.upstream_time = started.elapsed();
                return ex.upstream_failed(e).await;
            }
        }
    }
    ex.upstream_time = started.elapsed();
    let whole = assembly.completion();
    if let Err(e) = ex.audit_response(&whole, &whole.to_string()).await {
        return ex.failed(e);
    }
    if ex.denied() {
        return ex.deny().await;
    }
    match ex.receipt().await {
        Ok(receipt) => Outcome::Buffered {
            head: ex.head,
            receipt,
            chunks: all,
        },
        Err(e) => ex.failed(e),
    }
}

/// Forward chunks as they come (`observe`), or while periodic audits of the growing text allow
/// (`incremental`); the AR follows.
async fn forward(
    mut ex: Exchange,
    mut chunks: ChunkStream,
    mode: StreamMode,
    every: usize,
    tx: mpsc::Sender<StreamEvent>,
    started: Instant,
) {
    let mut assembly = Assembly::new();
    let mut audited_at = 0usize;
    let mut cut = false;
    // A client that went away does not stop the audit: the exchange still gets its receipt.
    let send = |event: StreamEvent| {
        let tx = tx.clone();
        async move {
            let _ = tx.send(event).await;
        }
    };
    while let Some(item) = chunks.next().await {
        let chunk = match item.and_then(|chunk| checked(&mut assembly, chunk)) {
            Ok(c) => c,
            Err(e) => {
                ex.extra
                    .insert("upstream_error".into(), Value::from(e.to_string()));
                ex.service.metrics.upstream_errors.inc();
                send(StreamEvent::Error(e.body())).await;
                break;
            }
        };
        let text_len = assembly.text_len();
        send(StreamEvent::Chunk(chunk)).await;
        if mode == StreamMode::Incremental && text_len - audited_at >= every {
            audited_at = text_len;
            let partial = assembly.completion().to_string();
            match ex.phase(Phase::Response, Some(partial)).await {
                Ok(d) if d.effect == Effect::Deny => {
                    cut = true;
                    ex.extra
                        .insert("stream_cut_at_chars".into(), Value::from(text_len as u64));
                    break;
                }
                Ok(_) => {
                    // Keep only the final audit's evidence for the response phase.
                    ex.phases.pop();
                }
                Err(e) => {
                    ex.extra
                        .insert("audit_error".into(), Value::from(e.to_string()));
                    cut = true;
                    break;
                }
            }
        }
    }
    ex.upstream_time = started.elapsed();
    if !cut {
        let whole = assembly.completion();
        if let Err(e) = ex.audit_response(&whole, &whole.to_string()).await {
            ex.extra
                .insert("audit_error".into(), Value::from(e.to_string()));
        }
    }
    if ex.denied() {
        send(StreamEvent::Error(ex.denial().body())).await;
    }
    match ex.receipt().await {
        Ok(receipt) => send(StreamEvent::Receipt(receipt.text)).await,
        Err(e) => send(StreamEvent::Error(e.body())).await,
    }
    send(StreamEvent::Done).await;
}

/// A chunk added to the answer, or why the upstream's answer is not valid.
fn checked(assembly: &mut Assembly, chunk: Value) -> Result<Value, UpstreamError> {
    assembly
        .push(&chunk)
        .map_err(|e| UpstreamError::Invalid(e.to_string()))?;
    Ok(chunk)
}
