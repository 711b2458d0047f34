from tests.agents.conftest import answer_of


def test_smoke(agent, user):
    tools = agent.tools()
    print([t.name for t in tools])
    result = agent.call("create_task", title="Buy milk")
    print(result)
    print(agent.call("list_tasks", limit=5))
    print(agent.call("get_task", task_id=999))
    print(answer_of(agent.call("task_stats")))
