//! Which observations a change can regroup: every observation's identity keys (hashed), and the
//! device it is part of now.
//!
//! # Why a component is enough
//!
//! `devices::identity::group` places an observation by looking up its keys (hardware UUID,
//! serial, MAC, short host name, IP address) among the groups founded before it. So where an
//! observation lands depends only on observations that share a key with it, and on the groups
//! those are in. Agents never join each other, so a key shared by two agents and by no record
//! links nothing. The *component* of a set of observations is therefore what grouping can reach
//! from them: follow every key from a record to anything that has it, and every key from an
//! agent to the records that have it; add every observation of the devices reached; repeat.
//! Grouping a component alone gives exactly the groups a full grouping gives it (a property
//! test in `estate::tests` checks the whole estate against a rebuild).
//!
//! Keys are hashed to 64 bits: two different keys with one hash only make a component larger
//! (more is regrouped than needed), never wrong. IP addresses link regardless of the time window
//! the matcher applies, for the same reason.

use std::collections::hash_map::DefaultHasher;
use std::collections::{HashMap, HashSet, VecDeque};
use std::hash::{Hash, Hasher};

use uuid::Uuid;

use super::row::Member;
use crate::devices::identity::{Identity, Keys};

/// One observation in the index.
#[derive(Debug, Clone)]
struct Obs {
    member: Member,
    keys: Box<[u64]>,
    /// The device it is part of now (`None` until first derived).
    device: Option<Uuid>,
}

impl Obs {
    fn is_agent(&self) -> bool {
        matches!(self.member, Member::Agent { .. })
    }
}

/// The hashed keys of an identity.
pub fn key_hashes(identity: &Identity) -> Box<[u64]> {
    let k = Keys::of(identity);
    let mut out = Vec::with_capacity(3 + k.macs.len() + k.ips.len());
    let mut push = |tag: u8, value: &dyn Fn(&mut DefaultHasher)| {
        let mut h = DefaultHasher::new();
        tag.hash(&mut h);
        value(&mut h);
        out.push(h.finish());
    };
    if let Some(u) = &k.uuid {
        push(1, &|h| u.hash(h));
    }
    if let Some(s) = &k.serial {
        push(2, &|h| s.hash(h));
    }
    for m in &k.macs {
        push(3, &|h| m.hash(h));
    }
    if let Some(host) = &k.host {
        push(4, &|h| host.short.hash(h));
    }
    for ip in &k.ips {
        push(5, &|h| ip.hash(h));
    }
    out.sort_unstable();
    out.dedup();
    out.into_boxed_slice()
}

/// Every observation's keys and device.
#[derive(Debug, Default)]
pub struct Index {
    obs: Vec<Option<Obs>>,
    free: Vec<u32>,
    by_member: HashMap<Member, u32>,
    /// Key hash -> the one observation that has it (most keys are held by one).
    single: HashMap<u64, u32>,
    /// Key hash -> the observations that have it, when more than one does.
    multi: HashMap<u64, Vec<u32>>,
}

impl Index {
    pub fn len(&self) -> usize {
        self.by_member.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_member.is_empty()
    }

    pub fn contains(&self, member: &Member) -> bool {
        self.by_member.contains_key(member)
    }

    fn post(&mut self, key: u64, obs: u32) {
        if let Some(list) = self.multi.get_mut(&key) {
            list.push(obs);
            return;
        }
        match self.single.insert(key, obs) {
            None => {}
            Some(prev) if prev == obs => {}
            Some(prev) => {
                self.single.remove(&key);
                self.multi.insert(key, vec![prev, obs]);
            }
        }
    }

    fn unpost(&mut self, key: u64, obs: u32) {
        if self.single.get(&key) == Some(&obs) {
            self.single.remove(&key);
            return;
        }
        if let Some(list) = self.multi.get_mut(&key) {
            list.retain(|o| *o != obs);
            if list.len() == 1 {
                let last = list[0];
                self.multi.remove(&key);
                self.single.insert(key, last);
            } else if list.is_empty() {
                self.multi.remove(&key);
            }
        }
    }

    fn postings(&self, key: u64) -> &[u32] {
        if let Some(o) = self.single.get(&key) {
            std::slice::from_ref(o)
        } else {
            self.multi.get(&key).map_or(&[], Vec::as_slice)
        }
    }

    /// Adds an observation or replaces its keys; returns its slot.
    pub fn upsert(&mut self, member: Member, keys: Box<[u64]>) -> u32 {
        if let Some(&slot) = self.by_member.get(&member) {
            let old = self.obs[slot as usize]
                .as_mut()
                .map(|o| std::mem::take(&mut o.keys))
                .unwrap_or_default();
            for k in old.iter() {
                self.unpost(*k, slot);
            }
            for k in keys.iter() {
                self.post(*k, slot);
            }
            if let Some(o) = self.obs[slot as usize].as_mut() {
                o.keys = keys;
            }
            return slot;
        }
        let obs = Obs {
            member,
            keys,
            device: None,
        };
        let slot = match self.free.pop() {
            Some(slot) => {
                self.obs[slot as usize] = Some(obs);
                slot
            }
            None => {
                self.obs.push(Some(obs));
                u32::try_from(self.obs.len() - 1).unwrap_or(u32::MAX)
            }
        };
        let keys = self.obs[slot as usize]
            .as_ref()
            .map(|o| o.keys.clone())
            .unwrap_or_default();
        for k in keys.iter() {
            self.post(*k, slot);
        }
        self.by_member.insert(member, slot);
        slot
    }

    /// Removes an observation (an agent whose reports are gone).
    pub fn remove(&mut self, member: &Member) {
        let Some(slot) = self.by_member.remove(member) else {
            return;
        };
        if let Some(o) = self.obs[slot as usize].take() {
            for k in o.keys.iter() {
                self.unpost(*k, slot);
            }
        }
        self.free.push(slot);
    }

    pub fn set_device(&mut self, member: &Member, device: Uuid) {
        if let Some(&slot) = self.by_member.get(member)
            && let Some(o) = self.obs[slot as usize].as_mut()
        {
            o.device = Some(device);
        }
    }

    pub fn device_of(&self, member: &Member) -> Option<Uuid> {
        let slot = *self.by_member.get(member)?;
        self.obs[slot as usize].as_ref()?.device
    }

    /// Whether an agent shares no key with any record: it is a device on its own whatever else
    /// the estate holds.
    pub fn agent_alone(&self, member: &Member) -> bool {
        let Some(&slot) = self.by_member.get(member) else {
            return true;
        };
        let Some(o) = &self.obs[slot as usize] else {
            return true;
        };
        o.keys.iter().all(|k| {
            self.postings(*k).iter().all(|&other| {
                other == slot || self.obs[other as usize].as_ref().is_none_or(Obs::is_agent)
            })
        })
    }

    /// The component of `seeds` (see the module note). `members_of` gives the observations of a
    /// device as it is now.
    pub fn component(
        &self,
        seeds: impl IntoIterator<Item = Member>,
        members_of: &dyn Fn(Uuid) -> Vec<Member>,
    ) -> Vec<Member> {
        let mut seen: HashSet<u32> = HashSet::new();
        let mut devices: HashSet<Uuid> = HashSet::new();
        let mut queue: VecDeque<u32> = VecDeque::new();
        for m in seeds {
            if let Some(&slot) = self.by_member.get(&m)
                && seen.insert(slot)
            {
                queue.push_back(slot);
            }
        }
        while let Some(slot) = queue.pop_front() {
            let Some(o) = &self.obs[slot as usize] else {
                continue;
            };
            if let Some(d) = o.device
                && devices.insert(d)
            {
                for m in members_of(d) {
                    if let Some(&s) = self.by_member.get(&m)
                        && seen.insert(s)
                    {
                        queue.push_back(s);
                    }
                }
            }
            let agent = o.is_agent();
            for k in o.keys.iter() {
                for &other in self.postings(*k) {
                    if seen.contains(&other) {
                        continue;
                    }
                    let other_agent = self.obs[other as usize].as_ref().is_some_and(Obs::is_agent);
                    if agent && other_agent {
                        continue;
                    }
                    seen.insert(other);
                    queue.push_back(other);
                }
            }
        }
        let mut out: Vec<Member> = seen
            .into_iter()
            .filter_map(|s| self.obs[s as usize].as_ref().map(|o| o.member))
            .collect();
        out.sort();
        out
    }

    /// Every observation not yet part of a device, grouped into components.
    pub fn undevised_components(&self) -> Vec<Vec<Member>> {
        let mut done: HashSet<Member> = HashSet::new();
        let mut out = Vec::new();
        for o in self.obs.iter().flatten() {
            if o.device.is_some() || done.contains(&o.member) {
                continue;
            }
            let comp = self.component([o.member], &|_| Vec::new());
            done.extend(comp.iter().copied());
            out.push(comp);
        }
        out
    }
}
