SELECT '{{ env_var("API_TOKEN") }}' AS token FROM no_such_table
