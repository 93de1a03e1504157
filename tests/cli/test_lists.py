import json


def test_lists_create_then_ls_json_shows_it(cli):
    cli("lists", "create", "newsletter")
    result = cli("lists", "ls", "--json")
    (found,) = json.loads(result.stdout)
    assert found["name"] == "newsletter"
    assert found["contacts"] == 0


def test_creating_a_list_twice_is_a_clear_error(cli):
    cli("lists", "create", "newsletter")
    result = cli("lists", "create", "newsletter", ok=False)
    assert result.exit_code == 2
    assert "already exists" in result.output
    assert "Traceback" not in result.output
