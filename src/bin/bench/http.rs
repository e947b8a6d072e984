//! A minimal HTTP/1.1 client over one keep-alive connection, for the bench's own polling.
//!
//! The load of figure 1 comes from wrk; this reads the hub's status (readiness, "is it connected
//! yet" at a 2 ms interval) and sends the baseline's signed webhooks. A hand-written client keeps
//! the bench free of another HTTP stack and makes one request cost one write and one read on an
//! open socket, nothing else.

use std::time::Duration;

use serde_json::Value;
use tokio::{
    io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader},
    net::TcpStream,
};

/// A single answer: status code and body.
pub struct Reply {
    pub status: u16,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn json(&self) -> Result<Value, String> {
        serde_json::from_slice(&self.body).map_err(|error| {
            format!(
                "answer is not JSON ({error}): {}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }
}

/// One keep-alive connection to `127.0.0.1:port`, reopened after any failure.
pub struct HttpClient {
    port: u16,
    stream: Option<BufReader<TcpStream>>,
    /// Sent as `Authorization: Bearer` on every request, for a hub that asks for a token.
    token: Option<String>,
}

const IO_TIMEOUT: Duration = Duration::from_secs(10);

impl HttpClient {
    pub fn new(port: u16) -> Self {
        Self {
            port,
            stream: None,
            token: None,
        }
    }

    /// A client that sends `token` with every request.
    pub fn with_token(port: u16, token: Option<&str>) -> Self {
        Self {
            token: token.map(str::to_string),
            ..Self::new(port)
        }
    }

    fn authorization(&self) -> String {
        self.token
            .as_ref()
            .map(|token| format!("Authorization: Bearer {token}\r\n"))
            .unwrap_or_default()
    }

    /// `GET path`; the error says what failed (connect, write, read, malformed answer).
    pub async fn get(&mut self, path: &str) -> Result<Reply, String> {
        let request = format!(
            "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\n{}\r\n",
            self.port,
            self.authorization()
        );
        self.request("GET", path, request.into_bytes()).await
    }

    /// `POST path` with a JSON body and extra headers.
    pub async fn post_json(
        &mut self,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Result<Reply, String> {
        let mut request = format!(
            "POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\n{}",
            self.port,
            body.len(),
            self.authorization()
        );
        for (name, value) in headers {
            request.push_str(&format!("{name}: {value}\r\n"));
        }
        request.push_str("\r\n");
        let mut bytes = request.into_bytes();
        bytes.extend_from_slice(body);
        self.request("POST", path, bytes).await
    }

    async fn request(&mut self, method: &str, path: &str, bytes: Vec<u8>) -> Result<Reply, String> {
        let result = tokio::time::timeout(IO_TIMEOUT, self.exchange(&bytes))
            .await
            .unwrap_or_else(|_| Err(format!("no answer within {IO_TIMEOUT:?}")));
        if result.is_err() {
            // Whatever state the connection is in, it is not reusable.
            self.stream = None;
        }
        result.map_err(|error| format!("{method} 127.0.0.1:{}{path}: {error}", self.port))
    }

    /// `GET path` parsed as JSON, requiring a 200.
    pub async fn get_json(&mut self, path: &str) -> Result<Value, String> {
        let reply = self.get(path).await?;
        if reply.status != 200 {
            return Err(format!(
                "GET {path} answered {}: {}",
                reply.status,
                String::from_utf8_lossy(&reply.body)
            ));
        }
        reply.json()
    }

    async fn exchange(&mut self, request: &[u8]) -> Result<Reply, String> {
        if self.stream.is_none() {
            let tcp = TcpStream::connect(("127.0.0.1", self.port))
                .await
                .map_err(|error| format!("connect: {error}"))?;
            tcp.set_nodelay(true)
                .map_err(|error| format!("set TCP_NODELAY: {error}"))?;
            self.stream = Some(BufReader::new(tcp));
        }
        let stream = self.stream.as_mut().ok_or("no connection")?;
        stream
            .get_mut()
            .write_all(request)
            .await
            .map_err(|error| format!("write: {error}"))?;
        read_response(stream).await
    }
}

async fn read_line(stream: &mut BufReader<TcpStream>) -> Result<String, String> {
    let mut line = String::new();
    let read = stream
        .read_line(&mut line)
        .await
        .map_err(|error| format!("read: {error}"))?;
    if read == 0 {
        return Err("connection closed by the server".to_string());
    }
    Ok(line.trim_end().to_string())
}

async fn read_response(stream: &mut BufReader<TcpStream>) -> Result<Reply, String> {
    let status_line = read_line(stream).await?;
    let status = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse::<u16>().ok())
        .ok_or_else(|| format!("malformed status line `{status_line}`"))?;
    let mut length = None;
    let mut chunked = false;
    loop {
        let line = read_line(stream).await?;
        if line.is_empty() {
            break;
        }
        let Some((name, value)) = line.split_once(':') else {
            return Err(format!("malformed header `{line}`"));
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            length = Some(
                value
                    .parse::<usize>()
                    .map_err(|_| format!("bad content-length `{value}`"))?,
            );
        } else if name.eq_ignore_ascii_case("transfer-encoding")
            && value.eq_ignore_ascii_case("chunked")
        {
            chunked = true;
        }
    }
    let mut body = Vec::new();
    if chunked {
        loop {
            let size_line = read_line(stream).await?;
            let size_text = size_line.split(';').next().unwrap_or("").trim();
            let size = usize::from_str_radix(size_text, 16)
                .map_err(|_| format!("bad chunk size `{size_line}`"))?;
            let mut chunk = vec![0; size + 2];
            stream
                .read_exact(&mut chunk)
                .await
                .map_err(|error| format!("read chunk: {error}"))?;
            if size == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..size]);
        }
    } else {
        body.resize(length.unwrap_or(0), 0);
        stream
            .read_exact(&mut body)
            .await
            .map_err(|error| format!("read body: {error}"))?;
    }
    Ok(Reply { status, body })
}
