//! A loopback HTTP server for download tests: fixed replies by request path.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;

#[derive(Clone)]
pub enum Reply {
    Body(Vec<u8>),
    /// Announce the full length, send only this many bytes, then close.
    CutAfter(Vec<u8>, usize),
}

/// Serves `routes` (by request path) on 127.0.0.1 until the test process ends; anything else is
/// a 404. Returns the base URL and a count of requests served.
pub fn serve(routes: HashMap<String, Reply>) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&hits);
    thread::spawn(move || {
        for stream in listener.incoming() {
            counter.fetch_add(1, Ordering::SeqCst);
            answer(stream.unwrap(), &routes);
        }
    });
    (base, hits)
}

fn answer(mut stream: TcpStream, routes: &HashMap<String, Reply>) {
    // Read the whole request first: closing with unread input would reset the connection.
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut request_line = String::new();
    reader.read_line(&mut request_line).unwrap();
    let mut line = String::new();
    while reader.read_line(&mut line).unwrap() > 2 {
        line.clear();
    }
    let path = request_line
        .split_whitespace()
        .nth(1)
        .unwrap_or("")
        .to_string();
    let (status, body, send) = match routes.get(&path) {
        Some(Reply::Body(body)) => ("200 OK", body.clone(), body.len()),
        Some(Reply::CutAfter(body, n)) => ("200 OK", body.clone(), *n),
        None => ("404 Not Found", b"not here".to_vec(), 8),
    };
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    // The client may hang up first (after a 404, say); that is its right.
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(&body[..send]);
    let _ = stream.flush();
}
