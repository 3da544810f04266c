"""A Mage project read and checked, never executed: its files, their contract, models and graph."""
