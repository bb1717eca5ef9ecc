//! The live feed of receipts: every AR this gateway issues, in the order issued, with what the AR
//! itself does not say (the model asked for, Lucid's own latency). Kept cheap on the exchange's
//! path: an issued AR's text is shared (`Arc<str>`), pushed into a bounded ring of the most
//! recent ones and sent to whoever listens (the Observer UI's live feed); nothing is parsed or
//! verified here — readers do that, and only when someone is looking.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use tokio::sync::broadcast;

/// How many recent ARs the ring keeps (what a freshly opened feed shows).
pub const RECENT: usize = 500;
/// Entries a slow listener may fall behind before it misses some (it is told how many).
const LAGGING: usize = 1024;

/// One issued AR, as the feed carries it.
#[derive(Debug, Clone)]
pub struct FeedItem {
    pub ar_hash: Arc<str>,
    /// The AR exactly as signed and stored.
    pub text: Arc<str>,
    /// The model the client asked for (`None` for ARs that are not exchanges).
    pub model: Option<Arc<str>>,
    /// Lucid's own time for the exchange (without the upstream's), in microseconds.
    pub own_us: Option<u64>,
}

/// The feed: a ring of recent items and a broadcast to listeners.
pub struct Feed {
    recent: Mutex<VecDeque<Arc<FeedItem>>>,
    sender: broadcast::Sender<Arc<FeedItem>>,
}

impl Default for Feed {
    fn default() -> Self {
        Feed::new()
    }
}

impl Feed {
    pub fn new() -> Feed {
        let (sender, _) = broadcast::channel(LAGGING);
        Feed {
            recent: Mutex::new(VecDeque::with_capacity(RECENT)),
            sender,
        }
    }

    /// Record one issued AR (after it was durably stored).
    pub fn publish(&self, item: FeedItem) {
        let item = Arc::new(item);
        {
            let mut recent = self.recent.lock().unwrap_or_else(|p| p.into_inner());
            if recent.len() == RECENT {
                recent.pop_front();
            }
            recent.push_back(item.clone());
        }
        // No listener is not an error.
        let _ = self.sender.send(item);
    }

    /// The most recent items, oldest first.
    pub fn recent(&self) -> Vec<Arc<FeedItem>> {
        let recent = self.recent.lock().unwrap_or_else(|p| p.into_inner());
        recent.iter().cloned().collect()
    }

    /// The item of `ar_hash` if it is still among the recent ones.
    pub fn find(&self, ar_hash: &str) -> Option<Arc<FeedItem>> {
        let recent = self.recent.lock().unwrap_or_else(|p| p.into_inner());
        recent
            .iter()
            .rev()
            .find(|i| &*i.ar_hash == ar_hash)
            .cloned()
    }

    /// Listen to the items published from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<FeedItem>> {
        self.sender.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(n: usize) -> FeedItem {
        FeedItem {
            ar_hash: format!("{n:064x}").into(),
            text: "{}".into(),
            model: None,
            own_us: None,
        }
    }

    #[test]
    fn the_ring_keeps_the_most_recent_and_listeners_get_what_follows() {
        let feed = Feed::new();
        feed.publish(item(0));
        let mut listener = feed.subscribe();
        for n in 1..=RECENT {
            feed.publish(item(n));
        }
        let recent = feed.recent();
        assert_eq!(recent.len(), RECENT);
        assert_eq!(&*recent[0].ar_hash, format!("{:064x}", 1));
        assert!(feed.find(&format!("{:064x}", 0)).is_none());
        assert!(feed.find(&format!("{RECENT:064x}")).is_some());
        let first = listener.try_recv().expect("an item");
        assert_eq!(&*first.ar_hash, format!("{:064x}", 1));
    }
}
