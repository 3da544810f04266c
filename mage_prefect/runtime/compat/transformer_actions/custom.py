"""Mage's custom actions: the payload's `action_code` run as a script over `df`, then each function
it decorated with `@transformer_action`, in order, each taking and returning the frame."""

from __future__ import annotations

from collections import deque


def execute_custom_action(df, action):
    decorated: deque = deque()

    def transformer_action(function):
        decorated.append(function)
        return function

    exec(action["action_code"].replace("\t", " " * 4), {"df": df, "transformer_action": transformer_action})
    while decorated:
        df = decorated.popleft()(df)
    return df
