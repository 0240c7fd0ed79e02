"""Terminal chat (`convrec chat --cli`): one conversation on stdin/stdout, for scripts and debugging.

Lines are messages; commands start with '/': /like N, /reject N, /own N (N = pick number shown),
/new, /session, /help, /quit. Output is plain text, so it can be piped and diffed.
"""

from __future__ import annotations

import sys
from typing import TextIO

from agent import AgentInputError, Pick, Session, Settings, Turn, UnknownItem, build_agent

HELP = ("commands: /like N, /reject N, /own N (N = pick number), /new (start over), "
        "/session (show the session id), /help, /quit; anything else is a message")
FEEDBACK = {"/like": "like", "/reject": "reject", "/own": "owned"}


def format_turn(turn: Turn) -> str:
    """An assistant turn as plain text: the reply, then numbered picks with price, category and reason."""
    lines = [turn.text.rstrip()]
    for n, pick in enumerate(turn.picks, 1):
        lines.append(f"  {n}. {_pick_line(pick)}")
        lines.append(f"     why: {pick.reason}")
    return "\n".join(lines)


def _pick_line(pick: Pick) -> str:
    item = pick.item
    price = f"${item.price:,.2f}" if item.price is not None else "price n/a"
    tag = " [exploring]" if pick.explore else ""
    return f"{item.title} ({price}, {item.category or 'uncategorised'}) id={item.item_id}{tag}"


def run_terminal_chat(settings: Settings, agent=None, stdin: TextIO | None = None,
                      stdout: TextIO | None = None, stream: bool | None = None) -> int:
    """Chat until EOF or /quit; returns 0, or 1 if any message failed. agent None: agent.build_agent(settings)."""
    stdin = stdin or sys.stdin
    out = stdout or sys.stdout
    interactive = stdin.isatty() and out.isatty()
    stream = interactive if stream is None else stream  # streaming text only helps a human watching
    if agent is None:
        agent = build_agent(settings)
    d = agent.describe()
    print(f"convrec: catalog {d.get('catalog')} ({d.get('items')} items), mode {d.get('mode')}, "
          f"llm {d.get('llm')}. {HELP}", file=out, flush=True)
    session = agent.new_session()
    picks: list[Pick] = []
    failed = False
    while True:
        if interactive:
            print("you> ", end="", file=out, flush=True)
        line = stdin.readline()
        if not line:
            break
        text = line.strip()
        if not text:
            continue
        command, _, arg = text.partition(" ")
        if command in ("/quit", "/exit"):
            break
        if command == "/help":
            print(HELP, file=out)
        elif command == "/new":
            session, picks = agent.new_session(), []
            print("(new conversation)", file=out)
        elif command == "/session":
            print(session.session_id, file=out)
        elif command in FEEDBACK:
            failed |= not _feedback(agent, session, picks, arg, FEEDBACK[command], out)
        elif text.startswith("/"):
            print(f"error: unknown command {command}; {HELP}", file=out)
            failed = True
        else:
            turn = _reply(agent, session, text, out, stream)
            if turn is None:
                failed = True
            else:
                picks = list(turn.picks) or picks
        out.flush()
    return 1 if failed else 0


def _reply(agent, session: Session, text: str, out: TextIO, stream: bool) -> Turn | None:
    try:
        if not stream:
            turn = agent.reply(session, text)
            print(f"convrec> {format_turn(turn)}", file=out)
            return turn
        print("convrec> ", end="", file=out, flush=True)
        turn = None
        for part in agent.reply_stream(session, text):
            if isinstance(part, Turn):
                turn = part
            else:
                print(part, end="", file=out, flush=True)
        assert turn is not None, "reply_stream must end with the Turn"
        print("\n" + format_turn(turn).partition("\n")[2] if turn.picks else "", file=out)
        return turn
    except AgentInputError as e:
        print(f"error: {e}", file=out)
        return None


def _feedback(agent, session: Session, picks: list[Pick], arg: str, kind: str, out: TextIO) -> bool:
    if not picks:
        print("error: no picks yet; describe what you want first", file=out)
        return False
    try:
        pick = picks[int(arg) - 1]
        if int(arg) < 1:
            raise IndexError
    except (ValueError, IndexError):
        print(f"error: give a pick number from 1 to {len(picks)}, e.g. /{'own' if kind == 'owned' else kind} 1",
              file=out)
        return False
    try:
        agent.feedback(session, pick.item.item_id, kind)
    except UnknownItem as e:
        print(f"error: {e}", file=out)
        return False
    print(f"(noted: {kind} {pick.item.title}; send a message for new picks)", file=out)
    return True
