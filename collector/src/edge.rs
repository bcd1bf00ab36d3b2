//! Limits at the edge, between the TLS socket and the router: what a slow or greedy client may
//! hold. Every rule here bounds time or connections, never the size of a legitimate transfer.
//!
//! - **Connections per address** ([`ConnectionCap`]): at most `max_connections_per_address`
//!   open connections from one IPv4 address or one IPv6 /64, counted from accept (handshake
//!   included) to close. One more is closed at once, before the TLS handshake.
//! - **Request body** ([`MinRateBody`]): the body must keep up with a minimum rate. Once the
//!   handler starts reading it, the body has `body_timeout` plus one second for every
//!   `body_min_bytes_per_sec` bytes received so far; a body that falls behind is cut off with
//!   [`BodyTooSlow`] (answered 408, so an agent retries). A flat deadline would either cut off a
//!   256 MB import on a slow line or let a trickling attacker hold the connection for minutes;
//!   a minimum rate does neither.
//! - **Request deadline** ([`with_deadline`]): the answer's head must be ready within
//!   `request_timeout`, extended by the time the body may take at the minimum rate (so an upload
//!   is never cut off for being large). Past it the handler is dropped and the client gets 503
//!   `timeout` with `Retry-After`. A streamed answer (exports, backups) only needs its head in
//!   time; its body is bounded by the write stall below.
//! - **Write stall** ([`StallIo`]): a connection whose client stops reading for
//!   `write_stall_timeout` (the socket accepts no byte) is closed, so a client that never reads
//!   its export cannot hold the connection, its buffers or a backup's temporary file.
//!
//! TLS handshakes (10 s) and request headers (30 s) have their own timeouts in `tls.rs`.

use std::collections::HashMap;
use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::response::{IntoResponse, Response};
use hyper::body::{Frame, SizeHint};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

/// The edge limits in force, from the configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EdgeLimits {
    /// Open connections from one address (IPv4) or /64 (IPv6).
    pub max_connections_per_address: usize,
    /// What a request body may take before the minimum rate starts to count.
    pub body_timeout: Duration,
    /// Bytes per second a body must average after `body_timeout`.
    pub body_min_bytes_per_sec: u64,
    /// Time to the answer's head, on top of the body's allowance.
    pub request_timeout: Duration,
    /// How long a client may accept no byte of the answer.
    pub write_stall_timeout: Duration,
}

impl Default for EdgeLimits {
    fn default() -> Self {
        Self {
            max_connections_per_address: 64,
            body_timeout: Duration::from_secs(20),
            body_min_bytes_per_sec: 1024,
            request_timeout: Duration::from_secs(120),
            write_stall_timeout: Duration::from_secs(60),
        }
    }
}

impl EdgeLimits {
    /// The time a body of `received` bytes may take: `body_timeout` plus one second per
    /// `body_min_bytes_per_sec` bytes.
    pub fn body_allowance(&self, received: u64) -> Duration {
        let rate = self.body_min_bytes_per_sec.max(1);
        self.body_timeout
            .saturating_add(Duration::from_millis(received.saturating_mul(1000) / rate))
    }
}

/// Open connections per address. [`ConnectionCap::admit`] returns a guard that gives the slot
/// back when the connection ends, or `None` when the address is at its cap.
#[derive(Debug)]
pub struct ConnectionCap {
    max: usize,
    open: Mutex<HashMap<IpAddr, usize>>,
    refused: AtomicU64,
}

/// One admitted connection; dropping it frees the slot.
#[derive(Debug)]
pub struct ConnectionSlot {
    cap: Arc<ConnectionCap>,
    key: IpAddr,
}

impl ConnectionCap {
    pub fn new(max: usize) -> Arc<Self> {
        Arc::new(Self {
            max: max.max(1),
            open: Mutex::new(HashMap::new()),
            refused: AtomicU64::new(0),
        })
    }

    /// IPv4 addresses count one by one; IPv6 by /64 (one host usually holds a whole /64).
    /// IPv4-mapped IPv6 addresses count as their IPv4 address.
    fn key(ip: IpAddr) -> IpAddr {
        match ip {
            IpAddr::V4(_) => ip,
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => IpAddr::V4(v4),
                None => {
                    let mut s = v6.segments();
                    s[4..].fill(0);
                    IpAddr::V6(s.into())
                }
            },
        }
    }

    pub fn admit(self: &Arc<Self>, ip: IpAddr) -> Option<ConnectionSlot> {
        let key = Self::key(ip);
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        let n = open.entry(key).or_insert(0);
        if *n >= self.max {
            drop(open);
            let refused = self.refused.fetch_add(1, Ordering::Relaxed) + 1;
            // The first refusal and then one in a thousand: the log stays readable under a flood.
            if refused % 1000 == 1 {
                tracing::warn!(
                    %ip,
                    cap = self.max,
                    refused_so_far = refused,
                    "connection refused: too many open connections from this address"
                );
            }
            return None;
        }
        *n += 1;
        Some(ConnectionSlot {
            cap: self.clone(),
            key,
        })
    }

    /// Connections refused since start.
    pub fn refused(&self) -> u64 {
        self.refused.load(Ordering::Relaxed)
    }

    /// Open connections from `ip`'s address or /64.
    pub fn open_from(&self, ip: IpAddr) -> usize {
        let open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        open.get(&Self::key(ip)).copied().unwrap_or(0)
    }
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        let mut open = self.cap.open.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = open.get_mut(&self.key) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                open.remove(&self.key);
            }
        }
    }
}

/// A request body that fell behind the minimum rate.
#[derive(Debug, Clone, thiserror::Error)]
#[error(
    "the request body arrived too slowly: {received} bytes in {elapsed_secs} s \
     (at least {min_rate} bytes/s are needed after the first {grace_secs} s)"
)]
pub struct BodyTooSlow {
    pub received: u64,
    pub elapsed_secs: u64,
    pub min_rate: u64,
    pub grace_secs: u64,
}

impl BodyTooSlow {
    /// Whether `err` or anything in its source chain is a [`BodyTooSlow`].
    pub fn in_chain<'a>(err: &'a (dyn std::error::Error + 'static)) -> Option<&'a BodyTooSlow> {
        let mut current = Some(err);
        while let Some(e) = current {
            if let Some(slow) = e.downcast_ref::<BodyTooSlow>() {
                return Some(slow);
            }
            current = e.source();
        }
        None
    }
}

/// Counts a request's body bytes for its deadline ([`with_deadline`]).
#[derive(Debug, Clone, Default)]
pub struct BodyProgress(Arc<AtomicU64>);

impl BodyProgress {
    pub fn received(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// A body that must keep up with [`EdgeLimits::body_min_bytes_per_sec`] (see the module note).
pub struct MinRateBody {
    inner: Body,
    limits: EdgeLimits,
    /// When the handler first asked for the body.
    started: Option<Instant>,
    received: u64,
    progress: BodyProgress,
    timer: Option<Pin<Box<Sleep>>>,
}

impl MinRateBody {
    pub fn new(inner: Body, limits: EdgeLimits, progress: BodyProgress) -> Self {
        Self {
            inner,
            limits,
            started: None,
            received: 0,
            progress,
            timer: None,
        }
    }

    fn deadline(&self, started: Instant) -> Instant {
        started + self.limits.body_allowance(self.received)
    }
}

impl hyper::body::Body for MinRateBody {
    type Data = Bytes;
    type Error = axum::BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = self.get_mut();
        let started = *this.started.get_or_insert_with(Instant::now);
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    let n = data.len() as u64;
                    this.received += n;
                    this.progress.0.fetch_add(n, Ordering::Relaxed);
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e.into()))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => {
                let deadline = this.deadline(started);
                let timer = this
                    .timer
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
                if timer.deadline() != deadline {
                    timer.as_mut().reset(deadline);
                }
                ready!(timer.as_mut().poll(cx));
                Poll::Ready(Some(Err(Box::new(BodyTooSlow {
                    received: this.received,
                    elapsed_secs: started.elapsed().as_secs(),
                    min_rate: this.limits.body_min_bytes_per_sec,
                    grace_secs: this.limits.body_timeout.as_secs(),
                }))))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// Wraps a request's body in a [`MinRateBody`]; returns the progress counter for its deadline.
pub fn limit_body(
    request: hyper::Request<Body>,
    limits: EdgeLimits,
) -> (hyper::Request<Body>, BodyProgress) {
    let progress = BodyProgress::default();
    let p = progress.clone();
    let request = request.map(|body| Body::new(MinRateBody::new(body, limits, p)));
    (request, progress)
}

/// The answer when a request missed its deadline: 503 `timeout`, with `Retry-After`.
pub fn deadline_response(limits: &EdgeLimits) -> Response {
    let body = ward_shared::api::ErrorBody {
        error: "timeout".into(),
        detail: format!(
            "the request took longer than {} s; retry later",
            limits.request_timeout.as_secs()
        ),
    };
    let mut response = (
        axum::http::StatusCode::SERVICE_UNAVAILABLE,
        axum::Json(body),
    )
        .into_response();
    let headers = response.headers_mut();
    headers.insert(
        axum::http::header::RETRY_AFTER,
        axum::http::HeaderValue::from_static("30"),
    );
    headers.insert(
        axum::http::header::CONNECTION,
        axum::http::HeaderValue::from_static("close"),
    );
    response
}

/// Runs `handler` until it answers or the request's deadline passes: `request_timeout` after
/// `arrived`, plus the body's allowance for the bytes received so far (re-read each time the
/// deadline comes, so a body still arriving at the minimum rate keeps its request alive).
pub async fn with_deadline(
    handler: impl Future<Output = Response>,
    limits: EdgeLimits,
    progress: BodyProgress,
    arrived: Instant,
) -> Response {
    tokio::pin!(handler);
    loop {
        let received = progress.received();
        let deadline = arrived
            + limits
                .request_timeout
                .saturating_add(limits.body_allowance(received));
        tokio::select! {
            response = &mut handler => return response,
            () = tokio::time::sleep_until(deadline) => {
                if progress.received() == received {
                    tracing::warn!(
                        timeout_secs = limits.request_timeout.as_secs(),
                        body_bytes = received,
                        "request dropped: it missed its deadline"
                    );
                    return deadline_response(&limits);
                }
            }
        }
    }
}

/// An I/O stream whose writes may not stall longer than a bound: when the peer accepts no
/// byte for `stall` while there is something to send, writes fail with `TimedOut` and the
/// connection ends.
pub struct StallIo<T> {
    inner: T,
    stall: Duration,
    timer: Option<Pin<Box<Sleep>>>,
}

impl<T> StallIo<T> {
    pub fn new(inner: T, stall: Duration) -> Self {
        Self {
            inner,
            stall,
            timer: None,
        }
    }

    /// Called when a write is pending: starts the stall clock, or fails once it ran out.
    fn stalled(&mut self, cx: &mut Context<'_>) -> Poll<std::io::Error> {
        let stall = self.stall;
        let timer = self
            .timer
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(stall)));
        ready!(timer.as_mut().poll(cx));
        Poll::Ready(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            format!("the client accepted no data for {} s", stall.as_secs()),
        ))
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for StallIo<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for StallIo<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_write(cx, buf) {
            Poll::Pending => this.stalled(cx).map(Err),
            done => {
                this.timer = None;
                done
            }
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_write_vectored(cx, bufs) {
            Poll::Pending => this.stalled(cx).map(Err),
            done => {
                this.timer = None;
                done
            }
        }
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_flush(cx) {
            Poll::Pending => this.stalled(cx).map(Err),
            done => {
                this.timer = None;
                done
            }
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;
    use tokio::sync::mpsc;

    /// A body fed from a channel, as a client sending at its own pace.
    struct Chan(mpsc::Receiver<Bytes>);

    impl hyper::body::Body for Chan {
        type Data = Bytes;
        type Error = std::convert::Infallible;

        fn poll_frame(
            self: Pin<&mut Self>,
            cx: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
            self.get_mut()
                .0
                .poll_recv(cx)
                .map(|chunk| chunk.map(|b| Ok(Frame::data(b))))
        }
    }

    fn channel_body() -> (mpsc::Sender<Bytes>, Body) {
        let (tx, rx) = mpsc::channel(4);
        (tx, Body::new(Chan(rx)))
    }

    fn limits() -> EdgeLimits {
        EdgeLimits {
            max_connections_per_address: 2,
            body_timeout: Duration::from_secs(10),
            body_min_bytes_per_sec: 100,
            request_timeout: Duration::from_secs(5),
            write_stall_timeout: Duration::from_secs(5),
        }
    }

    #[test]
    fn connections_are_capped_per_address_and_per_ipv6_64() {
        let cap = ConnectionCap::new(2);
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        let first = cap.admit(a).unwrap();
        let _second = cap.admit(a).unwrap();
        assert!(cap.admit(a).is_none(), "a third from the same address");
        assert!(cap.admit(b).is_some(), "another address is not affected");
        drop(first);
        let _third = cap.admit(a).expect("a closed connection frees its slot");
        let v6: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let v6_same_64: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        let v6_other: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        let _x = cap.admit(v6).unwrap();
        let _y = cap.admit(v6_same_64).unwrap();
        assert!(cap.admit(v6).is_none(), "one /64 is one address");
        assert!(cap.admit(v6_other).is_some());
        assert_eq!(cap.refused(), 2);
        let mapped: IpAddr = "::ffff:192.0.2.1".parse().unwrap();
        assert!(cap.admit(mapped).is_none(), "IPv4-mapped counts as IPv4");
    }

    /// A body that sends a byte and then nothing: cut off after the grace period with
    /// [`BodyTooSlow`], not held forever.
    #[tokio::test(start_paused = true)]
    async fn a_trickling_body_is_cut_off() {
        let (tx, body) = channel_body();
        let (request, progress) = limit_body(hyper::Request::new(body), limits());
        let reader = tokio::spawn(async move { request.into_body().collect().await });
        tx.send(Bytes::from_static(b"x")).await.unwrap();
        let started = Instant::now();
        let err = reader.await.unwrap().unwrap_err();
        let err: &(dyn std::error::Error + 'static) = &err;
        let slow = BodyTooSlow::in_chain(err).expect("BodyTooSlow in the chain");
        assert_eq!(slow.received, 1);
        assert_eq!(progress.received(), 1);
        // 10 s of grace plus 1/100 s for the byte received.
        assert!(started.elapsed() >= Duration::from_secs(10));
        drop(tx);
    }

    /// A large body at the minimum rate is never cut off, however long it takes.
    #[tokio::test(start_paused = true)]
    async fn a_body_at_the_minimum_rate_goes_through() {
        let (tx, body) = channel_body();
        let (request, progress) = limit_body(hyper::Request::new(body), limits());
        let reader = tokio::spawn(async move { request.into_body().collect().await });
        // 600 chunks of 100 bytes, one a second: 10 minutes, far past any flat deadline.
        for _ in 0..600 {
            tx.send(Bytes::from(vec![b'a'; 100])).await.unwrap();
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        drop(tx);
        let body = reader.await.unwrap().unwrap().to_bytes();
        assert_eq!(body.len(), 60_000);
        assert_eq!(progress.received(), 60_000);
    }

    /// A client that stops reading: once the socket takes no byte for the stall bound, the
    /// write fails instead of waiting forever.
    #[tokio::test(start_paused = true)]
    async fn a_client_that_stops_reading_is_dropped() {
        use tokio::io::AsyncWriteExt;
        let (server, mut client) = tokio::io::duplex(1024);
        let mut io = StallIo::new(server, Duration::from_secs(60));
        // The client reads the first kilobyte, then nothing.
        let mut first = vec![0u8; 1024];
        let writer = tokio::spawn(async move {
            let chunk = vec![b'x'; 4096];
            loop {
                if let Err(e) = io.write_all(&chunk).await {
                    return e;
                }
            }
        });
        tokio::io::AsyncReadExt::read_exact(&mut client, &mut first)
            .await
            .unwrap();
        let err = writer.await.unwrap();
        assert_eq!(err.kind(), std::io::ErrorKind::TimedOut);
        drop(client);
    }

    #[tokio::test(start_paused = true)]
    async fn a_handler_past_its_deadline_gets_503_timeout() {
        let progress = BodyProgress::default();
        let slow = async {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            axum::http::StatusCode::OK.into_response()
        };
        let response = with_deadline(slow, limits(), progress, Instant::now()).await;
        assert_eq!(response.status(), 503);
        assert!(response.headers().contains_key("retry-after"));
        let fast = async { axum::http::StatusCode::OK.into_response() };
        let response = with_deadline(fast, limits(), BodyProgress::default(), Instant::now()).await;
        assert_eq!(response.status(), 200);
    }
}
