"""The graded kernel's client is ready at the last message its kernel_info request causes, not 0.2 s
of IOPub silence later (jupyter_client's wait), and still checks what jupyter_client checks."""

from __future__ import annotations

import asyncio
import queue

import pytest

from tito.grading.sandbox import ConfinedKernelManager, ReadyClient

EMPTY = object()  # a get_msg that waits its whole timeout and finds nothing


class Channel:
    def __init__(self, messages: list) -> None:
        self.messages = list(messages)
        self.waited = 0  # get_msg calls that found nothing

    async def get_msg(self, timeout: float | None = None) -> dict:
        if not self.messages or self.messages[0] is EMPTY:
            if self.messages:
                self.messages.pop(0)
            self.waited += 1
            raise queue.Empty
        return self.messages.pop(0)


class ScriptedClient(ReadyClient):
    """A ReadyClient whose channels play back messages; its requests are named r1, r2, ..."""

    shell_channel = iopub_channel = None  # plain attributes over the client's channel properties

    def __init__(self, shell: list, iopub: list, alive: bool = True) -> None:
        super().__init__()
        self.shell_channel, self.iopub_channel = Channel(shell), Channel(iopub)
        self.requests: list[str] = []
        self.alive = alive

    def kernel_info(self) -> str:
        self.requests.append(f"r{len(self.requests) + 1}")
        return self.requests[-1]

    async def _async_is_alive(self) -> bool:
        return self.alive


def message(kind: str, parent: str, **content) -> dict:
    return {"msg_type": kind, "parent_header": {"msg_id": parent}, "content": {"protocol_version": "5.3", **content}}


def test_the_graded_kernels_clients_are_ready_clients() -> None:
    assert isinstance(ConfinedKernelManager(kernel_name="python3").client(), ReadyClient)


def test_ready_at_its_requests_idle_status_passing_over_other_messages() -> None:
    later = message("stream", "someone-else", text="after")
    client = ScriptedClient(
        shell=[message("kernel_info_reply", "r0"), message("kernel_info_reply", "r1")],
        iopub=[
            message("status", "r1", execution_state="busy"),
            message("status", "r0", execution_state="idle"),
            message("stream", "r1", text="hello"),
            message("status", "r1", execution_state="idle"),
            later,
        ],
    )
    asyncio.run(client.wait_for_ready(timeout=5))
    assert client.requests == ["r1"]
    assert client.iopub_channel.messages == [later], "read IOPub past its request's idle status"
    assert client.iopub_channel.waited == 0, "waited for IOPub to fall silent"


def test_iopub_not_yet_connected_asks_again() -> None:
    client = ScriptedClient(
        shell=[message("kernel_info_reply", "r1"), message("kernel_info_reply", "r2")],
        iopub=[EMPTY, message("status", "r2", execution_state="busy"), message("status", "r2", execution_state="idle")],
    )
    asyncio.run(client.wait_for_ready(timeout=5))
    assert client.requests == ["r1", "r2"]


def test_a_dead_kernel_is_said() -> None:
    client = ScriptedClient(shell=[EMPTY], iopub=[], alive=False)
    with pytest.raises(RuntimeError, match="died"):
        asyncio.run(client.wait_for_ready(timeout=5))
