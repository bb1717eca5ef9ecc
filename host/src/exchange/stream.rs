//! The streaming modes of an exchange: `buffer` holds the whole stream, audits it, then releases
//! it (or denies); `observe` forwards chunks as they come and audits at the end; `incremental`
//! holds chunks back until an audit covering them allowed (window audits every
//! `incremental_chars` of new text, see [`held`](super::held)), and cuts the stream when one
//! denies. Every mode ends with one audit of the whole answer (unless cut); the AR always follows.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde_json::Value;
use tokio::sync::mpsc;

use super::flow::{Answer, Exchange, ExchangeService, Outcome, StreamEvent};
use super::held::Held;
use super::openai::{self, Assembly, Growth, Text};
use super::redact::StreamMasks;
use super::upstream::{ChunkStream, UpstreamError};
use crate::config::StreamMode;
use crate::policy::Effect;
use crate::runtime::claim::Phase;

/// Events queued towards a slow client before the exchange waits for it.
const EVENT_QUEUE: usize = 64;

/// How long the exchange waits for a client that stopped reading its stream before it treats
/// the client as gone (and goes on to its audit and receipt without it).
const CLIENT_STALL: Duration = Duration::from_secs(30);

pub(super) async fn run(mut ex: Exchange, mode: StreamMode) -> Outcome {
    let service = ex.service.clone();
    let upstream_started = Instant::now();
    let chunks = match tokio::select! {
        result = service.upstream.stream(&ex.request, &ex.head.request_id) => result,
        () = service.lifecycle.cancelled() => Err(UpstreamError::ShutDown),
    } {
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
            service
                .lifecycle
                .spawn(forward(ex, chunks, mode, every, tx, upstream_started));
            Outcome::Forwarded { head, events }
        }
    }
}

/// Hold the whole stream; audit; then release it (allow) or deny.
async fn buffered(mut ex: Exchange, mut chunks: ChunkStream, started: Instant) -> Outcome {
    let mut all: Vec<Value> = Vec::new();
    let mut assembly = Assembly::new();
    let service = ex.service.clone();
    while let Some(item) = next(&mut chunks, &service).await {
        match item.and_then(|chunk| checked(&mut assembly, chunk)) {
            Ok((chunk, _)) => all.push(chunk),
            Err(e) => {
                ex.upstream_time = started.elapsed();
                return ex.upstream_failed(e).await;
            }
        }
    }
    ex.upstream_time = started.elapsed();
    let whole = assembly.completion();
    let whole_text = whole.to_string();
    if let Err(e) = ex.audit_response(&whole, &whole_text).await {
        return ex.failed(e);
    }
    let mut masks = StreamMasks::default();
    ex.mask_stream(&mut masks, &whole, &BTreeMap::new(), &assembly);
    if ex.denied() {
        return ex.deny().await;
    }
    for chunk in &mut all {
        masks.chunk(chunk, &assembly);
    }
    ex.record_stream_masks(&masks, &assembly);
    // The same rendering as `StreamEvent::data` of each chunk, without copying the chunks.
    let body: String = all.iter().map(openai::sse_data).collect();
    ex.answer = Answer::Sse { chunks: all, body };
    ex.release().await
}

/// Forward chunks as they come (`observe`), or as window audits allow them (`incremental`, see
/// [`held`](super::held)); then one audit of the whole answer, and the AR.
///
/// In `incremental`, the receipt's response-phase evidence is the audit of the whole answer, or
/// the window audit that denied (then `stream_cut_at_chars` says how much text had arrived, and
/// no text of that window, nor anything held, is ever sent). Window audits that allowed decided
/// releases only; their evidence is not kept.
async fn forward(
    mut ex: Exchange,
    mut chunks: ChunkStream,
    mode: StreamMode,
    every: usize,
    tx: mpsc::Sender<StreamEvent>,
    started: Instant,
) {
    let mut assembly = Assembly::new();
    let mut held = Held::default();
    let mut masks = StreamMasks::default();
    let mut upstream_error = None;
    let mut cut = false;
    ex.answer = Answer::Streamed;
    // A client that went away does not stop the audit: the exchange still gets its receipt. A
    // client that stops reading for `CLIENT_STALL` is treated as gone (nothing more is sent to
    // it), as it is once the gateway cuts exchanges off.
    let service = ex.service.clone();
    let gone = Arc::new(AtomicBool::new(false));
    // Whether the event was handed on towards the client.
    let send = |event: StreamEvent| {
        let tx = tx.clone();
        let service = service.clone();
        let gone = gone.clone();
        async move {
            if gone.load(Ordering::Relaxed) {
                return false;
            }
            let sent = tokio::select! {
                // An event the channel takes is sent, even when the cut-off comes at once.
                biased;
                sent = tokio::time::timeout(CLIENT_STALL, tx.send(event)) => {
                    matches!(sent, Ok(Ok(())))
                }
                () = service.lifecycle.cancelled() => false,
            };
            if !sent {
                gone.store(true, Ordering::Relaxed);
            }
            sent
        }
    };
    // Every event sent before the receipt is part of the response the receipt commits to; an
    // event not sent (the client gone) is not.
    macro_rules! emit {
        ($event:expr) => {{
            let event = $event;
            let data = event.data();
            if send(event).await
                && let Some(data) = data
            {
                ex.content.sent(data.as_bytes());
            }
        }};
    }
    while let Some(item) = next(&mut chunks, &service).await {
        let (chunk, growth) = match item.and_then(|chunk| checked(&mut assembly, chunk)) {
            Ok(c) => c,
            Err(e) => {
                upstream_error = Some(e);
                break;
            }
        };
        if mode != StreamMode::Incremental {
            emit!(StreamEvent::Chunk(chunk));
            continue;
        }
        held.push(chunk, growth);
        if !held.due(every) {
            continue;
        }
        let (window, starts) = held.window(&assembly);
        let decided = ex.phase(Phase::Response, Some(window.to_string())).await;
        // A window allowed after masking: its masks are placed before anything it covers goes
        // out (a mask that cannot be placed denies the window).
        let decided = decided.map(|d| {
            if d.effect == Effect::Allow && !ex.mask_stream(&mut masks, &window, &starts, &assembly)
            {
                Effect::Deny
            } else {
                d.effect
            }
        });
        match decided {
            Ok(Effect::Deny) => {
                cut = true;
                let at = assembly.text_len() as u64;
                ex.extra
                    .insert("stream_cut_at_chars".into(), Value::from(at));
                break;
            }
            Ok(Effect::Allow) => {
                ex.phases.pop();
                held.barriers(&starts, &masks.open(&assembly));
                for mut chunk in held.allow(&assembly) {
                    masks.chunk(&mut chunk, &assembly);
                    emit!(StreamEvent::Chunk(chunk));
                }
            }
            Err(e) => {
                ex.extra
                    .insert("audit_error".into(), Value::from(e.to_string()));
                emit!(StreamEvent::Error(e.body()));
                cut = true;
                break;
            }
        }
    }
    ex.upstream_time = started.elapsed();
    if let Some(e) = &upstream_error {
        ex.extra
            .insert("upstream_error".into(), Value::from(e.to_string()));
        ex.service.metrics.upstream_errors.inc();
    }
    if !cut {
        let whole = assembly.completion();
        let whole_text = whole.to_string();
        match ex.audit_response(&whole, &whole_text).await {
            Ok(())
                if !ex.denied()
                    && ex.mask_stream(&mut masks, &whole, &BTreeMap::new(), &assembly) =>
            {
                for mut chunk in held.release_all() {
                    masks.chunk(&mut chunk, &assembly);
                    emit!(StreamEvent::Chunk(chunk));
                }
            }
            Ok(()) => {}
            Err(e) => {
                ex.extra
                    .insert("audit_error".into(), Value::from(e.to_string()));
                emit!(StreamEvent::Error(e.body()));
                cut = true;
            }
        }
    }
    if let Some(e) = upstream_error {
        emit!(StreamEvent::Error(e.body()));
        cut = true;
    }
    if ex.denied() {
        emit!(StreamEvent::Error(ex.denial().body()));
        cut = true;
    }
    if cut || gone.load(Ordering::Relaxed) {
        ex.content.cut();
    }
    // What was masked, cut or not (window masks went out with the chunks they covered).
    ex.record_stream_masks(&masks, &assembly);
    match ex.receipt().await {
        Ok(receipt) => send(StreamEvent::Receipt(receipt.text)).await,
        Err(e) => send(StreamEvent::Error(e.body())).await,
    };
    send(StreamEvent::Done).await;
}

impl Exchange {
    /// Add the masks the last response-phase decision asks for, from an audit of `doc` (the
    /// whole answer, or a window whose texts start at `starts`). `false`: they cannot be
    /// applied, and the phase now denies.
    fn mask_stream(
        &mut self,
        masks: &mut StreamMasks,
        doc: &Value,
        starts: &BTreeMap<Text, usize>,
        assembly: &Assembly,
    ) -> bool {
        let picked = match self.picked(Phase::Response) {
            None => return true,
            Some(Ok(picked)) => picked,
            Some(Err(e)) => {
                self.masking_failed(&e);
                return false;
            }
        };
        match masks.add(doc, starts, &picked, assembly, &self.service.redaction) {
            Ok(()) => true,
            Err(e) => {
                self.masking_failed(&e);
                false
            }
        }
    }

    /// Record what a streamed answer had masked (every window's masks and the whole's), with
    /// the commitment to the answer as sent (assembled).
    fn record_stream_masks(&mut self, masks: &StreamMasks, assembly: &Assembly) {
        if masks.masked.is_empty() {
            return;
        }
        let after = masks
            .masked_completion(&assembly.completion(), assembly)
            .to_string();
        self.record_masks(Phase::Response, None, &after, &masks.masked);
    }
}

/// The upstream's next chunk, or [`UpstreamError::ShutDown`] once the gateway cuts exchanges off.
async fn next(
    chunks: &mut ChunkStream,
    service: &ExchangeService,
) -> Option<Result<Value, UpstreamError>> {
    tokio::select! {
        item = chunks.next() => item,
        () = service.lifecycle.cancelled() => Some(Err(UpstreamError::ShutDown)),
    }
}

/// A chunk added to the answer (with what it added), or why the upstream's answer is not valid.
fn checked(assembly: &mut Assembly, chunk: Value) -> Result<(Value, Growth), UpstreamError> {
    let growth = assembly
        .push(&chunk)
        .map_err(|e| UpstreamError::Invalid(e.to_string()))?;
    Ok((chunk, growth))
}
