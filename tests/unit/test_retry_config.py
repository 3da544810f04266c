"""RetryConfig.delays(): Mage's retry algorithm (mage_ai/shared/retry.py), where max_delay caps the total sleep."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from mage_prefect.project.models import RetryConfig


def test_defaults_are_mages():
    assert RetryConfig() == RetryConfig(retries=0, delay=5, max_delay=60, exponential_backoff=True)


def test_no_retries_means_no_delays():
    assert RetryConfig().delays() == []
    assert RetryConfig(retries=0, delay=1).delays() == []


def test_max_delay_caps_the_cumulative_sleep_not_each_delay():
    # 5 + 10 + 20 = 35; the next 40 would bring the total to 75 >= 60, so Mage gives up after 4 attempts
    assert RetryConfig(retries=5).delays() == [5, 10, 20]


def test_exponential_backoff_doubles_each_delay_while_retries_last():
    assert RetryConfig(retries=3, delay=1, max_delay=1000).delays() == [1, 2, 4]


def test_without_exponential_backoff_the_delay_is_constant():
    assert RetryConfig(retries=3, exponential_backoff=False).delays() == [5, 5, 5]
    # 11 sleeps of 5 s total 55 s; a 12th would reach 60 = max_delay
    assert RetryConfig(retries=20, exponential_backoff=False).delays() == [5] * 11


def test_a_delay_that_alone_reaches_max_delay_means_no_retry():
    assert RetryConfig(retries=3, delay=60).delays() == []


def test_zero_delay_retries_immediately():
    assert RetryConfig(retries=2, delay=0).delays() == [0, 0]


def test_unknown_keys_are_rejected_like_mage():
    with pytest.raises(ValidationError):
        RetryConfig(retries=1, attempts=3)
