#!/usr/bin/env python3
"""A history of events for `punch simulate` (and `punch import`), one JSON line each.

    python3 bench/history.py [EVENTS] [MEMBERS] [SEED] > /tmp/history.jsonl

Defaults: 1,000,000 events, 20,000 members, seed 1: the same file on every machine, so a
figure measured on it can be measured again. The shape is the README's: 80% orders of 1-3
items (category car, fuel, food or shop, amount 100-4999), 15% workouts, 5% visits nobody
reacts to; members drawn uniformly; times increasing over 2026 (UTC); ids h0, h1, ...
"""
import random
import sys


def main():
    events = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    members = int(sys.argv[2]) if len(sys.argv) > 2 else 20_000
    seed = int(sys.argv[3]) if len(sys.argv) > 3 else 1
    rnd = random.Random(seed)
    start = 1767225600000  # 2026-01-01T00:00:00Z in ms
    year = 365 * 86400 * 1000
    step = year / max(events, 1)
    cats = ("car", "fuel", "food", "shop")
    out = sys.stdout
    buf = []
    for i in range(events):
        at = start + int(i * step + rnd.random() * step)
        secs, ms = divmod(at, 1000)
        days, rest = divmod(secs - start // 1000, 86400)
        # 2026 is not a leap year: month from the day of the year
        month, day = 1, days
        for length in (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31):
            if day < length:
                break
            day -= length
            month += 1
        when = "2026-%02d-%02dT%02d:%02d:%02d.%03dZ" % (
            month, day + 1, rest // 3600, rest // 60 % 60, rest % 60, ms)
        member = "m%d" % rnd.randrange(members)
        r = rnd.random()
        if r < 0.80:
            items = ",".join(
                '{"category":"%s","amount":%d}' % (rnd.choice(cats), rnd.randrange(100, 5000))
                for _ in range(rnd.randint(1, 3)))
            buf.append('{"id":"h%d","type":"order","member":"%s","at":"%s","data":{"items":[%s]}}'
                       % (i, member, when, items))
        elif r < 0.95:
            buf.append('{"id":"h%d","type":"workout","member":"%s","at":"%s"}' % (i, member, when))
        else:
            buf.append('{"id":"h%d","type":"visit","member":"%s","at":"%s"}' % (i, member, when))
        if len(buf) >= 10000:
            out.write("\n".join(buf) + "\n")
            buf = []
    if buf:
        out.write("\n".join(buf) + "\n")


if __name__ == "__main__":
    main()
