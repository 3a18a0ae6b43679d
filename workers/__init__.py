"""Process side of carousel: the long-lag tasks, the seed-batched trainer and the thin Ray wrapper.

Nothing here touches the database; workers get plain data and return plain data.
"""
