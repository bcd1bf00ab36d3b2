//! Operations endpoints: `POST /api/v1/admin/backup` streams a consistent snapshot of the store
//! (the store part of a backup file, see [`crate::store::backup`]).

use std::io::{self, Write};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::header;
use axum::response::Response;
use hyper::body::Frame;
use tokio::sync::mpsc;

use super::{Admin, ApiError, AppState};
use crate::store::backup::RecordWriter;

/// Chunks of the streamed backup; the channel's bound keeps memory flat when the client reads
/// slower than the store is copied.
const CHUNK: usize = 256 * 1024;
const CHUNKS_IN_FLIGHT: usize = 8;

/// Streams the store part of a backup. The store is copied on a blocking thread while the
/// committer is paused (see [`crate::store::Store::backup`]); a failure ends the body early,
/// without the end record, so the client knows the copy is incomplete.
pub async fn backup(_: Admin, State(state): State<Arc<AppState>>) -> Result<Response, ApiError> {
    let (tx, rx) = mpsc::channel(CHUNKS_IN_FLIGHT);
    let store = state.store.clone();
    tokio::task::spawn_blocking(move || {
        let failed = tx.clone();
        let mut writer = RecordWriter::new(ChannelWriter {
            tx,
            buf: Vec::with_capacity(CHUNK),
        });
        let result = store
            .backup(&mut writer)
            .map_err(|e| io::Error::other(e.to_string()))
            .and_then(|stats| writer.finish().map(|_| stats));
        match result {
            Ok(stats) => tracing::info!(
                trees = stats.trees,
                pairs = stats.pairs,
                bytes = stats.bytes,
                "backup streamed"
            ),
            Err(e) => {
                tracing::error!(error = %e, "backup failed");
                let _ = failed.blocking_send(Err(e));
            }
        }
    });
    Response::builder()
        .header(header::CONTENT_TYPE, "application/octet-stream")
        .body(Body::new(ChannelBody(rx)))
        .map_err(|e| ApiError::Internal(format!("backup response: {e}")))
}

/// A `Write` that sends full chunks into a channel (from a blocking thread).
struct ChannelWriter {
    tx: mpsc::Sender<io::Result<Bytes>>,
    buf: Vec<u8>,
}

impl ChannelWriter {
    fn send(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK)));
        self.tx
            .blocking_send(Ok(chunk))
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the client went away"))
    }
}

impl Write for ChannelWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= CHUNK {
            self.send()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.send()
    }
}

/// The receiving end as an HTTP body.
struct ChannelBody(mpsc::Receiver<io::Result<Bytes>>);

impl hyper::body::Body for ChannelBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        self.0
            .poll_recv(cx)
            .map(|chunk| chunk.map(|r| r.map(Frame::data)))
    }
}
