//! Working on many items at once and reporting their results in input order, without a slow
//! item holding up the others: up to `concurrency` items run at once, any that finishes frees
//! its place for the next, and finished results wait in a reorder buffer until the ones before
//! them are out. (`buffered(n)` counts finished-but-not-yet-reported results against `n`, so
//! one slow item there idles every other connection.) The buffer is bounded: no item starts
//! more than [`WINDOW_PER_SLOT`] × `concurrency` places after the oldest unfinished one, so
//! memory stays flat however long the input.

use std::collections::BTreeMap;
use std::future::Future;

use futures::stream::{FusedStream, FuturesUnordered};
use futures::{Stream, StreamExt};

/// How far ahead of the oldest unfinished item work may start, per place.
pub const WINDOW_PER_SLOT: usize = 64;

/// `stream` as it is, calling `end` with the number of items once it has ended (a list read
/// from a pipe: its length is known only then).
pub fn counted<S>(stream: S, end: impl FnOnce(u64)) -> impl Stream<Item = S::Item>
where
    S: Stream + Unpin,
{
    futures::stream::unfold(
        (stream, 0u64, Some(end)),
        |(mut stream, n, mut end)| async move {
            if let Some(item) = stream.next().await {
                return Some((item, (stream, n + 1, end)));
            }
            if let Some(end) = end.take() {
                end(n);
            }
            None
        },
    )
}

/// Runs `work` on each of `items`, `concurrency` at once, and hands each result to
/// `on_result` in input order. `may_start` is asked before each item starts: once it says no,
/// nothing more starts, and what is in flight finishes and is reported. `on_result`'s error
/// stops everything at once.
pub async fn in_order<T, R, E, Fut>(
    items: impl IntoIterator<Item = T>,
    concurrency: usize,
    may_start: impl FnMut() -> bool,
    work: impl Fn(T) -> Fut,
    on_result: impl FnMut(R) -> Result<(), E>,
) -> Result<(), E>
where
    Fut: Future<Output = R>,
{
    in_order_streamed(
        futures::stream::iter(items),
        concurrency,
        may_start,
        work,
        on_result,
    )
    .await
}

/// [`in_order`] over items that arrive as a stream (a pipe that is still being written): an
/// item starts as soon as it arrives and a place is free, while the items in flight go on.
pub async fn in_order_streamed<T, R, E, Fut>(
    items: impl Stream<Item = T>,
    concurrency: usize,
    mut may_start: impl FnMut() -> bool,
    work: impl Fn(T) -> Fut,
    mut on_result: impl FnMut(R) -> Result<(), E>,
) -> Result<(), E>
where
    Fut: Future<Output = R>,
{
    let concurrency = concurrency.max(1);
    let window = concurrency.saturating_mul(WINDOW_PER_SLOT);
    let mut items = std::pin::pin!(items.fuse());
    let mut running = FuturesUnordered::new();
    let mut finished: BTreeMap<usize, R> = BTreeMap::new();
    let mut next_in = 0usize;
    let mut next_out = 0usize;
    let mut stopped = false;
    loop {
        let room = !stopped
            && !items.is_terminated()
            && running.len() < concurrency
            && next_in < next_out + window;
        if running.is_empty() && !room {
            break;
        }
        tokio::select! {
            biased;
            Some((index, result)) = running.next(), if !running.is_empty() => {
                finished.insert(index, result);
                while let Some(result) = finished.remove(&next_out) {
                    on_result(result)?;
                    next_out += 1;
                }
            }
            item = items.next(), if room => {
                let Some(item) = item else { continue };
                if !may_start() {
                    stopped = true;
                    continue;
                }
                let index = next_in;
                next_in += 1;
                let future = work(item);
                running.push(async move { (index, future.await) });
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;
    use std::time::Duration;

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    }

    #[test]
    fn a_slow_item_never_holds_up_the_others_and_order_is_kept() {
        // Item 0 waits until every other item has finished; with buffered(2) the others could
        // not all start before it finished, and this would not end.
        runtime().block_on(async {
            let done_others = RefCell::new(0usize);
            let (release, released) = tokio::sync::watch::channel(false);
            let released = &released;
            let done = &done_others;
            let release = &release;
            let mut reported = Vec::new();
            let run = in_order(
                0..20usize,
                2,
                || true,
                |i| async move {
                    if i == 0 {
                        let mut watch = released.clone();
                        let _ = watch.wait_for(|r| *r).await;
                    } else {
                        tokio::time::sleep(Duration::from_millis(1)).await;
                        *done.borrow_mut() += 1;
                        if *done.borrow() == 19 {
                            let _ = release.send(true);
                        }
                    }
                    i
                },
                |i| {
                    reported.push(i);
                    Ok::<(), ()>(())
                },
            );
            tokio::time::timeout(Duration::from_secs(10), run)
                .await
                .expect("the others finished while the first was held")
                .unwrap();
            assert_eq!(reported, (0..20).collect::<Vec<_>>(), "input order");
        });
    }

    #[test]
    fn a_refusal_to_start_lets_what_runs_finish_and_starts_nothing_more() {
        runtime().block_on(async {
            let mut started = 0;
            let mut reported = Vec::new();
            in_order(
                0..10usize,
                3,
                || {
                    started += 1;
                    started <= 4
                },
                |i| async move { i },
                |i| {
                    reported.push(i);
                    Ok::<(), ()>(())
                },
            )
            .await
            .unwrap();
            assert_eq!(reported, [0, 1, 2, 3]);
        });
    }

    #[test]
    fn an_error_in_reporting_stops_everything() {
        runtime().block_on(async {
            let result = in_order(
                0..10usize,
                2,
                || true,
                |i| async move { i },
                |i| if i == 3 { Err(i) } else { Ok(()) },
            )
            .await;
            assert_eq!(result, Err(3));
        });
    }

    #[test]
    fn items_from_a_stream_start_while_it_is_still_being_written() {
        runtime().block_on(async {
            let (tx, mut rx) = tokio::sync::mpsc::channel::<usize>(4);
            let stream = futures::stream::poll_fn(move |cx| rx.poll_recv(cx));
            let reported = RefCell::new(Vec::new());
            let reported = &reported;
            let writer = async move {
                for i in 0..5 {
                    tx.send(i).await.unwrap();
                    // The next item comes only once the previous one was reported.
                    while reported.borrow().len() <= i {
                        tokio::time::sleep(Duration::from_millis(1)).await;
                    }
                }
            };
            let run = in_order_streamed(
                stream,
                3,
                || true,
                |i| async move { i * 10 },
                |r| {
                    reported.borrow_mut().push(r);
                    Ok::<(), ()>(())
                },
            );
            let (result, ()) = tokio::time::timeout(Duration::from_secs(10), async {
                futures::join!(run, writer)
            })
            .await
            .expect("results came while the stream was open");
            result.unwrap();
            assert_eq!(*reported.borrow(), [0, 10, 20, 30, 40]);
        });
    }

    #[test]
    fn a_counted_stream_tells_its_length_at_its_end() {
        let seen = std::cell::Cell::new(None);
        let items: Vec<u8> = runtime()
            .block_on(counted(futures::stream::iter([1u8, 2, 3]), |n| seen.set(Some(n))).collect());
        assert_eq!(items, [1, 2, 3]);
        assert_eq!(seen.get(), Some(3));
    }
}
