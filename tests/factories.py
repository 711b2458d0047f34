import factory

from accounts.models import User, generate_user_id
from tasks.models import Task


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User

    id = factory.LazyFunction(generate_user_id)
    email = factory.Sequence(lambda n: f"user{n}@example.com")
    name = factory.Faker("name")


class TaskFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Task

    user = factory.SubFactory(UserFactory)
    title = factory.Sequence(lambda n: f"Task {n}")
    description = None
