import factory

from accounts.models import User, generate_user_id
from tasks.models import Task, TaskList
from tasks.services import list_create, task_create


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User

    id = factory.LazyFunction(generate_user_id)
    email = factory.Sequence(lambda n: f"user{n}@example.com")
    name = factory.Faker("name")


class TaskFactory(factory.django.DjangoModelFactory):
    """Tasks made through the write path, as the API would make them; `created_at=` backdates
    one afterwards, for tests of the order."""

    class Meta:
        model = Task

    user = factory.SubFactory(UserFactory)
    title = factory.Sequence(lambda n: f"Task {n}")
    description = None

    @classmethod
    def _create(cls, model_class: type[Task], user: User, **fields) -> Task:
        created_at = fields.pop("created_at", None)
        task = task_create(user=user, data=fields)
        if created_at is not None:
            Task.objects.filter(pk=task.pk).update(created_at=created_at)
            task.created_at = created_at
        return task


class TaskListFactory(factory.django.DjangoModelFactory):
    """Lists made through the write path, at the end of their owner's lists."""

    class Meta:
        model = TaskList

    user = factory.SubFactory(UserFactory)
    name = factory.Sequence(lambda n: f"List {n}")

    @classmethod
    def _create(cls, model_class: type[TaskList], user: User, **fields) -> TaskList:
        return list_create(user=user, data=fields)
