"""`manage.py seed_demo`: realistic demo users, lists and tasks (some of them subtasks), in
bulk, for demos and load tests."""

import random
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth.hashers import make_password
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.models import Max
from django.utils import timezone

from accounts.models import User, generate_user_id
from tasks.models import Priority, Task, TaskList
from tasks.positions import position_after, positions_for
from tasks.services import lists_import, task_ids_reserve, tasks_import

VERBS = [
    "Buy",
    "Call",
    "Email",
    "Fix",
    "Plan",
    "Book",
    "Clean",
    "Review",
    "Pay",
    "Read",
    "Write",
    "Order",
    "Return",
    "Schedule",
    "Prepare",
    "Renew",
    "Check",
    "Send",
]
OBJECTS = [
    "milk",
    "the dentist",
    "the landlord",
    "the bike",
    "holiday trip",
    "train tickets",
    "the garage",
    "pull request",
    "electricity bill",
    "chapter 4",
    "thank-you notes",
    "printer ink",
    "library books",
    "team meeting",
    "tax return",
    "passport",
    "car insurance",
    "birthday present",
    "quarterly report",
    "groceries",
    "flat tyre",
    "garden hose",
    "school forms",
    "gym membership",
]
DESCRIPTIONS = [
    "Before the weekend, if possible.",
    "Ask about the price first.",
    "See the notes from last week.",
    "Needs the receipt from the drawer.",
    "Remind Sam too.",
    "Only if it is still on sale.",
    "Check the opening hours before going.",
]
TAGS = [
    "home",
    "work",
    "errands",
    "health",
    "finance",
    "family",
    "shopping",
    "urgent",
    "reading",
    "travel",
    "garden",
    "school",
]
PRIORITY_WEIGHTS = {Priority.NONE: 40, Priority.LOW: 25, Priority.MEDIUM: 20, Priority.HIGH: 15}
BIG_USER_EMAIL = "demo-big@example.com"
LIST_NAMES = [("Home", "#34a853"), ("Work", "#4285f4"), ("Errands", None), ("Reading", "#fbbc05")]
SUBTASK_SHARE = 0.15
INBOX_SHARE = 0.4

Group = tuple[str, int | None, int | None]


class Placer:
    """Where generated tasks go: each user's lists, the last position of every sibling group
    (continuing after the tasks already there, so running twice keeps positions distinct),
    and recent top-level tasks that may take subtasks."""

    def __init__(self, rng: random.Random, user_ids: list[str]) -> None:
        self.rng = rng
        self.lists: dict[str, list[int]] = {}
        for user_id, list_id in TaskList.objects.filter(user_id__in=user_ids).values_list(
            "user_id", "pk"
        ):
            self.lists.setdefault(user_id, []).append(list_id)
        self.last: dict[Group, str] = {
            (row["user_id"], row["list_id"], row["parent_id"]): row["last"]
            for row in Task.objects.filter(user_id__in=user_ids)
            .values("user_id", "list_id", "parent_id")
            .annotate(last=Max("position"))
        }
        # A user's last generated top-level task: (id, list_id, completed).
        self.parents: dict[str, tuple[int, int | None, bool]] = {}

    def place(self, task: Task) -> None:
        """Set the task's list, parent and position (its id is set already)."""
        parent = self.parents.get(task.user_id)
        if parent is not None and self.rng.random() < SUBTASK_SHARE:
            task.parent_id, task.list_id, parent_completed = parent
            # Completing a parent completes its subtasks.
            task.completed = task.completed or parent_completed
        else:
            lists = self.lists.get(task.user_id)
            if lists and self.rng.random() >= INBOX_SHARE:
                task.list_id = self.rng.choice(lists)
            self.parents[task.user_id] = (task.pk, task.list_id, task.completed)
        group = (task.user_id, task.list_id, task.parent_id)
        task.position = self.last[group] = position_after(self.last.get(group))


class Command(BaseCommand):
    help = (
        "Create demo users (emails demo-1@example.com ... demo-N@example.com, Better-Auth-like "
        "ids, no usable password) and M realistic tasks spread over them: titles, some "
        "descriptions, priorities, due dates (some overdue), tags from a small vocabulary, "
        "some completed. Safe to run twice: demo users that already exist are reused, and new "
        "tasks are always added to them. With --seed, the same tasks are generated every time "
        "(their dates relative to now; user ids stay random). Writes through tasks.services "
        "(COPY on PostgreSQL)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--users", type=int, required=True, help="How many demo users.")
        parser.add_argument(
            "--tasks", type=int, required=True, help="How many tasks in all, spread over them."
        )
        parser.add_argument("--seed", type=int, help="Random seed, for repeatable content.")
        parser.add_argument(
            "--big-user-tasks",
            type=int,
            default=0,
            help=f"Also give one more user ({BIG_USER_EMAIL}) this many tasks, "
            "e.g. to check query plans for a heavy user.",
        )
        parser.add_argument(
            "--batch-size", type=int, default=10_000, help="Tasks per insert (default 10000)."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        users, tasks, batch_size = options["users"], options["tasks"], options["batch_size"]
        big_user_tasks = options["big_user_tasks"]
        if users < 1 or tasks < 0 or big_user_tasks < 0 or batch_size < 1:
            raise CommandError("--users and --batch-size must be positive, task counts >= 0.")
        self.show_progress = options["verbosity"] >= 1
        rng = random.Random(options["seed"])
        now = timezone.now()
        started = time.monotonic()

        user_ids = demo_users([f"demo-{n}@example.com" for n in range(1, users + 1)])
        # Lists and placement draw from streams of their own: the tasks' content stays the same
        # for one seed whether or not the lists existed already.
        demo_lists(random.Random(options["seed"]), user_ids, now)
        placer = Placer(random.Random(options["seed"]), user_ids)
        self.insert(
            (fake_task(rng, rng.choice(user_ids), now) for _ in range(tasks)),
            tasks,
            batch_size,
            placer,
        )
        if big_user_tasks:
            [big_user_id] = demo_users([BIG_USER_EMAIL])
            demo_lists(random.Random(options["seed"]), [big_user_id], now)
            self.insert(
                (fake_task(rng, big_user_id, now) for _ in range(big_user_tasks)),
                big_user_tasks,
                batch_size,
                Placer(random.Random(options["seed"]), [big_user_id]),
            )
            self.stdout.write(f"{BIG_USER_EMAIL} has id {big_user_id}.")
        elapsed = time.monotonic() - started
        self.stdout.write(
            f"Seeded {tasks + big_user_tasks} tasks for {users + bool(big_user_tasks)} demo "
            f"users in {elapsed:.1f}s."
        )

    def insert(self, tasks: Iterator[Task], total: int, batch_size: int, placer: Placer) -> None:
        done = 0
        for batch in batches(tasks, batch_size):
            for task, pk in zip(batch, task_ids_reserve(count=len(batch)), strict=True):
                task.pk = pk
                placer.place(task)
            done += tasks_import(tasks=batch)
            self.progress(done, total)
        if self.show_progress and total:
            self.stderr.write("")

    def progress(self, done: int, total: int) -> None:
        if self.show_progress:
            self.stderr.write(f"\rtasks: {done}/{total} ({done * 100 // total}%)", ending="")
            self.stderr.flush()


def demo_users(emails: list[str]) -> list[str]:
    """Ids of the users with these emails; the missing ones are created first."""
    existing = dict(User.objects.filter(email__in=emails).values_list("email", "id"))
    missing = [email for email in emails if email not in existing]
    User.objects.bulk_create(
        [
            User(
                id=generate_user_id(),
                email=email,
                name=f"Demo {email.split('@')[0]}",
                password=make_password(None),
            )
            for email in missing
        ],
        batch_size=1000,
    )
    existing.update(User.objects.filter(email__in=missing).values_list("email", "id"))
    return [existing[email] for email in emails]


def demo_lists(rng: random.Random, user_ids: list[str], now: datetime) -> None:
    """Up to four lists for each user who has none yet, in manual order."""
    have = set(TaskList.objects.filter(user_id__in=user_ids).values_list("user_id", flat=True))
    lists = []
    for user_id in user_ids:
        if user_id in have:
            continue
        chosen = LIST_NAMES[: rng.randint(0, len(LIST_NAMES))]
        for (name, color), position in zip(chosen, positions_for(len(chosen)), strict=True):
            lists.append(
                TaskList(
                    user_id=user_id,
                    name=name,
                    color=color,
                    position=position,
                    created_at=now,
                    updated_at=now,
                )
            )
    lists_import(lists=lists)


def fake_task(rng: random.Random, user_id: str, now: datetime) -> Task:
    """One task with a plausible history; a completed one was completed at its last update."""
    created_at = now - timedelta(seconds=rng.randint(0, 365 * 24 * 3600))
    age = (now - created_at).total_seconds()
    due_at = None
    if rng.random() < 0.6:
        # From a month ago to two months ahead, on the hour: some pending ones are overdue.
        due_at = (now + timedelta(hours=rng.randint(-30 * 24, 60 * 24))).replace(
            minute=0, second=0, microsecond=0
        )
    return Task(
        user_id=user_id,
        title=f"{rng.choice(VERBS)} {rng.choice(OBJECTS)}",
        description=rng.choice(DESCRIPTIONS) if rng.random() < 0.3 else None,
        completed=rng.random() < 0.35,
        priority=int(
            rng.choices(list(PRIORITY_WEIGHTS), weights=list(PRIORITY_WEIGHTS.values()))[0]
        ),
        due_at=due_at,
        tags=rng.sample(TAGS, k=rng.choices([0, 1, 2, 3], weights=[30, 40, 20, 10])[0]),
        created_at=created_at,
        updated_at=created_at + timedelta(seconds=age * rng.random()),
    )


def batches(tasks: Iterator[Task], size: int) -> Iterator[list[Task]]:
    batch: list[Task] = []
    for task in tasks:
        batch.append(task)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch
