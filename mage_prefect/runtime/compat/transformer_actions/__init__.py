"""`mage_ai.data_cleaner.transformer_actions`: the actions Mage's transformer templates build and run
(`build_transformer_action` → `BaseAction(action).execute(df)`), as Mage 0.9.80 runs them."""
